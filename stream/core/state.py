"""Per-contact state, and its compact versioned byte form for the worker's table.

Only what the loaded rules need is kept: the traits they read, one feed per distinct
aggregate, memberships, the stage, `seq`, and the event ids inside the duplicate horizon.
"""

from __future__ import annotations

from typing import Any

import orjson

from stream.core.compile import Plan
from stream.core.windows import SumWindow

FORMAT_VERSION = 1


class ContactState:
    """Mutable state of one contact. `now` is the last instant it was evaluated at."""

    __slots__ = (
        "contact_id",
        "deadlines",
        "feeds",
        "members",
        "next_at",
        "now",
        "recent",
        "seq",
        "stage",
        "traits",
        "truths",
    )

    def __init__(self, contact_id: str, feeds: list[Any]) -> None:
        self.contact_id = contact_id
        self.now: int | None = None
        self.seq = 0
        self.stage: int | None = None
        self.members: set[str] = set()
        self.traits: dict[str, Any] = {}
        self.feeds = feeds
        self.recent: dict[str, int] = {}
        # Per time leaf: the instant its value next flips (None: never), or the
        # absence of the list when not computed yet. Derived, never serialised.
        self.deadlines: list[int | None] | None = None
        self.next_at: int | None = None  # min of `deadlines`
        self.truths: list[bool] = []  # per time leaf, its value when its deadline was set


def encode_state(state: ContactState, plan: Plan) -> bytes:
    """Serialise a contact's state; feeds are named by their stable keys."""
    feeds: dict[str, Any] = {}
    for spec, data in zip(plan.feeds, state.feeds, strict=True):
        # Only feeds that differ from their empty form (`feeds.Feed.empty`) are written.
        kind = spec.kind
        if spec.within is not None or kind == "count":
            if data:  # an empty window, or a count of 0
                feeds[spec.key] = data
        elif kind in ("min", "max"):
            if data is not None:  # 0 is a minimum like any other
                feeds[spec.key] = data
        elif kind == "distinct":
            if data:
                feeds[spec.key] = sorted(data)
        elif data[0]:  # sum and avg: [events counted, partial sums]
            feeds[spec.key] = data
    body = [
        FORMAT_VERSION,
        state.now,
        state.seq,
        plan.stages[state.stage] if state.stage is not None else None,
        sorted(state.members),
        state.traits,
        feeds,
        state.recent,
    ]
    return orjson.dumps(body)


def decode_state(data: bytes, contact_id: str, plan: Plan) -> ContactState:
    """Rebuild state written by `encode_state`, possibly under a newer rule set.

    Feeds, segments and stages that the current rules no longer have are dropped.
    """
    body = orjson.loads(data)
    if not isinstance(body, list) or body[0] != FORMAT_VERSION:
        raise ValueError(f"unknown contact state format for {contact_id!r}")
    _, now, seq, stage, members, traits, feeds, recent = body
    state = ContactState(contact_id, [spec.empty() for spec in plan.feeds])
    state.now = now
    state.seq = seq
    state.stage = plan.stages.index(stage) if stage in plan.stages else None
    known = {node.key for node in plan.nodes}
    state.members = {m for m in members if m in known}
    state.traits = {k: v for k, v in traits.items() if k in plan.trait_keys}
    for i, spec in enumerate(plan.feeds):
        saved = feeds.get(spec.key)
        if saved is None:
            continue
        if spec.within is not None:
            entries = [(t, v) for t, v in saved]
            state.feeds[i] = SumWindow(entries) if spec.kind in ("sum", "avg") else entries
        elif spec.kind == "distinct":
            state.feeds[i] = set(saved)
        else:
            state.feeds[i] = saved
    state.recent = recent
    return state
