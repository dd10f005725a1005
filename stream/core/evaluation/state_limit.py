"""Keeping each contact's stored state under a size limit without encoding it after every event.

The worker stores a contact's state as one changelog record, and Kafka refuses records past
its limit (1 MiB by default); a state that outgrew it would stop the worker for good. So an
event that would take the encoded state (`Engine.snapshot`) past `max_bytes` is rejected
(`state_limit`) and changes nothing, in the worker and in replay alike.

Encoding a state after every event would cost more than applying the event, so each contact
has an upper bound on its encoded size instead: exact whenever it was last measured, plus
the most each event since can have added (`growth`). Only when the bound comes near the
limit is the state measured, on a copy with the event applied. So the decision depends on
the state and the event alone: rejected exactly when the state after the event, with
`room` for what time alone may still add to it, is over the limit.

What an event may add, for one contact (docs/semantics.md has the table per condition kind):
its event id in the duplicate window; on an identify, its traits; one entry in every window
it counts in, and a distinct value in every `distinct` feed. What time may add to any state,
whatever its events (`room`): memberships, the stage, `seq` and `now`, and the all-time
counts, sums and extremes, each of a bounded size.
"""

from __future__ import annotations

from typing import Any

import orjson

from stream.core.evaluation.compile import LIFECYCLE, Plan
from stream.core.evaluation.engine import Engine
from stream.core.evaluation.state import ContactState
from stream.core.events import IDENTIFY, Event
from stream.errors import InvalidInput

STATE_LIMIT = "state_limit"  # the reason of an event rejected here

EMPTY_STATE_BYTES = 64  # a contact with nothing: `[1,null,0,null,[],{},{},{}]`, with room
# One window entry of a number or of nothing, `[-1234567890123456789,-1.2345678901234567e+300]`,
# with its feed's key `"0123456789":[...]` written the first time.
ENTRY_BYTES = 96
# On top of a distinct value's own encoding, which `growth` bounds by 8 times its
# properties' (the key is JSON inside a JSON string): a prefix, and the digits of a whole
# float past 64 bits written as an integer (at most 290 under the largest number limit).
DISTINCT_BYTES = 320
_NUMBER_BYTES = 24  # the longest number orjson writes: -1.7976931348623157e+308
# An exact float sum keeps Shewchuk partials: fewer than 48 for any finite doubles.
_PARTIALS_BYTES = 48 * (_NUMBER_BYTES + 1)
_FEED_KEY_BYTES = 16  # `"0123456789":` and a comma


def time_room(plan: Plan) -> int:
    """The most that deadlines and accumulators can add to any contact's encoded state."""
    room = 2 * 21  # `now` and `seq`, 20 digits each
    room += sum(len(node.key) + 3 for node in plan.nodes if node.key != LIFECYCLE)
    room += max((len(stage) + 2 for stage in plan.stages), default=0)
    for spec in plan.feeds:
        if spec.within is not None or spec.kind == "distinct":
            continue  # these grow per event, counted by `growth`
        size = _PARTIALS_BYTES if spec.kind in ("sum", "avg") else _NUMBER_BYTES
        room += _FEED_KEY_BYTES + size + 4
    return room


class StateLimit:
    """Admits events whose contact's encoded state stays within `max_bytes`."""

    def __init__(self, engine: Engine, max_bytes: int) -> None:
        self.engine = engine
        self.max_bytes = max_bytes
        plan = engine.plan
        self.room = time_room(plan)
        # Per event type: the bytes its window entries may add, and its distinct feeds.
        self._per_type: dict[str, tuple[int, int]] = {}
        for kind, indices in plan.feeds_by_type.items():
            entries = distinct = 0
            for i in indices:
                spec = plan.feeds[i]
                if spec.kind == "distinct":
                    distinct += 1
                elif spec.within is not None:
                    entries += ENTRY_BYTES
            self._per_type[kind] = (entries, distinct)
        self._bounds: dict[str, int] = {}  # contact -> an upper bound of its encoded size

    def growth(self, event: Event) -> int:
        """The most that applying `event` can add to its contact's encoded state."""
        # `"id":<timestamp>,` in `recent`: escaped, a character takes at most 6 bytes.
        grows = 6 * len(event.event_id) + 24
        kind = event.type
        if kind == IDENTIFY:
            grows += _encoded_size(event.traits)
        found = self._per_type.get(kind)
        if found is not None:
            entries, distinct = found
            grows += entries
            if distinct:
                grows += distinct * (8 * _encoded_size(event.properties) + DISTINCT_BYTES)
        return grows

    def admit(self, state: ContactState | None, event: Event, at: int) -> None:
        """Raise InvalidInput (`state_limit`) if applying `event` at `at` to `state` would take
        its encoding past the limit; `state` itself is left as it is either way."""
        contact = event.contact_id
        growth = self.growth(event)
        bounds = self._bounds
        known = bounds.get(contact)
        if known is None and state is None:
            known = EMPTY_STATE_BYTES
        if known is not None and known + growth + self.room <= self.max_bytes:
            bounds[contact] = known + growth  # the usual case: far from the limit
            return
        engine = self.engine
        trial = None
        if state is not None:  # measure it, and apply the event to a copy
            before = engine.snapshot(state)
            if len(before) + growth + self.room <= self.max_bytes:
                self._bounds[contact] = len(before) + growth
                return
            trial = engine.restore(before, contact)
        trial, _ = engine.on_item(trial, event, at)
        size = len(engine.snapshot(trial))
        if size + self.room > self.max_bytes:
            raise InvalidInput(
                STATE_LIMIT,
                f"applying it would make the contact's stored state {size:,} bytes, and with "
                f"{self.room:,} bytes of room for what time may add that passes the limit "
                f"of {self.max_bytes:,}: the event is not applied",
            )
        self._bounds[contact] = size

    def measured(self, encoded: dict[str, bytes]) -> None:
        """These contacts' states were just encoded (contact -> bytes)."""
        bounds = self._bounds
        for contact, body in encoded.items():
            bounds[contact] = len(body)

    def forget(self, contact: str) -> None:
        """Drop what is known of `contact` (its state left memory)."""
        self._bounds.pop(contact, None)


def _encoded_size(value: Any) -> int:
    return len(orjson.dumps(value))
