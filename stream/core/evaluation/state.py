"""Per-contact state: what the engine keeps of one contact between two events.

Only what the loaded rules need is kept: the traits they read, one feed per distinct
aggregate, memberships, the stage, `seq`, and the event ids applied within the duplicate
horizon. Its byte form for the worker's table is `state_codec`.
"""

from __future__ import annotations

from typing import Any


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
        # Event id -> this contact's `now` when it was applied (not the event's timestamp).
        self.recent: dict[str, int] = {}
        # Per time leaf: the instant its value next flips (None: never), or the
        # absence of the list when not computed yet. Derived, never serialised.
        self.deadlines: list[int | None] | None = None
        self.next_at: int | None = None  # min of `deadlines`
        self.truths: list[bool] = []  # per time leaf, its value when its deadline was set
