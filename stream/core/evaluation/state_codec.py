"""A contact's state as compact versioned bytes for the worker's table, and back."""

from __future__ import annotations

from typing import Any

import orjson

from stream.core.evaluation.compile import Plan
from stream.core.evaluation.state import ContactState
from stream.core.evaluation.windows import SumWindow

FORMAT_VERSION = 2
# Format 1 stored each remembered event id with the event's timestamp, format 2 with the
# contact's `now` when it was applied (the duplicate horizon is counted from that).
READABLE_VERSIONS = (1, FORMAT_VERSION)


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

    Feeds, segments and stages that the current rules no longer have are dropped. State in
    format 1 is migrated: see `_applied_at_from_v1`.
    """
    body = orjson.loads(data)
    if not isinstance(body, list) or not body or body[0] not in READABLE_VERSIONS:
        raise ValueError(f"unknown contact state format for {contact_id!r}")
    version, now, seq, stage, members, traits, feeds, recent = body
    if version == 1:
        recent = _applied_at_from_v1(recent, now)
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


def _applied_at_from_v1(recent: dict[str, int], now: int | None) -> dict[str, int]:
    """Format 1's event ids, each with the contact's `now` at the save as its application.

    Format 1 kept the event's timestamp, not when the contact applied it. That instant lies
    between the two (an event applies no earlier than its timestamp, and `now` never goes
    back), and format 1 only kept ids whose timestamp was within a horizon of `now`. Taking
    `now` errs towards recognising a retry: an id stays a duplicate less than one horizon
    longer than it would have, where taking the timestamp would keep re-applying retries of
    old events for the states on the table.
    """
    if now is None:
        return {}
    return dict.fromkeys(recent, now)
