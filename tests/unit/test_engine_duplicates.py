"""Duplicate detection in the engine: the horizon counts on the contact's clock, stored or not."""

from __future__ import annotations

import orjson
import pytest

from stream.core.evaluation.engine import Engine
from stream.core.evaluation.state import ContactState
from stream.core.events import Event, event_from_object
from stream.core.language.loader import load_dict
from stream.core.timefmt import format_ts, parse_ts

MINUTE = 60_000_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
T0 = parse_ts("2026-11-02T09:00:00Z")
RULES = load_dict(
    {"version": 1, "segments": [{"id": "twice", "when": {"event": "login", "count": {"gte": 2}}}]}
)


def login(event_id: str, t: int, contact: str = "c1") -> Event:
    return event_from_object(
        {"event_id": event_id, "contact_id": contact, "type": "login", "timestamp": format_ts(t)}
    )


def apply(engine: Engine, state: ContactState | None, event: Event, now: int) -> ContactState:
    at = engine.accept(state, event, now)
    assert at is not None, "expected the event to apply"
    state, _ = engine.on_item(state, event, at)
    return state


@pytest.mark.parametrize(
    ("later", "duplicate"),
    [(MINUTE, True), (DAY - 1, True), (DAY, False), (30 * DAY, False)],
)
def test_a_month_old_event_resent_is_a_duplicate_for_a_horizon_after_it_was_applied(
    later: int, duplicate: bool
) -> None:
    """The worker's wall clock case of the issue: the copy's timestamp is a month behind."""
    engine = Engine(RULES)
    wall = T0 + 30 * DAY
    old = login("e1", T0)
    state = apply(engine, None, old, wall)
    assert state.recent == {"e1": wall}  # the contact's clock, not the event's time
    at = engine.accept(state, old, wall + later)
    assert at == (None if duplicate else wall + later)


def test_the_horizon_counts_on_the_contacts_clock_when_the_callers_is_behind() -> None:
    """A caller's clock behind the contact's (a wall clock set back, a worker restarted with
    the event clock) does not stretch the horizon, so storing the state, which forgets the
    ids a horizon old, cannot change what is a duplicate."""
    engine = Engine(RULES)
    state = apply(engine, None, login("e1", T0), T0)
    state = apply(engine, state, login("e2", T0 + DAY), T0 + DAY)  # the contact's clock moves
    behind = T0 + DAY - HOUR
    copy = login("e1", T0)
    assert engine.accept(state, copy, behind) == T0 + DAY
    restored = engine.restore(engine.snapshot(state), "c1")
    assert "e1" not in restored.recent
    assert engine.accept(restored, copy, behind) == T0 + DAY


def test_a_duplicate_does_not_move_the_contacts_clock() -> None:
    engine = Engine(RULES)
    state = apply(engine, None, login("e1", T0), T0)
    assert engine.accept(state, login("e1", T0 + 2 * DAY), T0 + 1) is None
    assert state.now == T0


def _as_format_1(stored: bytes, event_times: dict[str, int]) -> bytes:
    """What format 1 wrote for the same state: event timestamps with the remembered ids."""
    body = orjson.loads(stored)
    assert body[0] == 2
    body[0] = 1
    body[-1] = {event_id: event_times[event_id] for event_id in body[-1]}
    return orjson.dumps(body)


def test_state_in_format_1_is_read_with_its_ids_applied_at_the_stored_now() -> None:
    engine = Engine(RULES)
    wall = T0 + 30 * DAY
    state = apply(engine, None, login("e1", T0), wall)
    state = apply(engine, state, login("e2", wall - HOUR), wall + HOUR)
    old_bytes = _as_format_1(engine.snapshot(state), {"e1": T0, "e2": wall - HOUR})
    migrated = engine.restore(old_bytes, "c1")
    assert migrated.recent == {"e1": wall + HOUR, "e2": wall + HOUR}
    assert (migrated.now, migrated.seq, migrated.members) == (state.now, state.seq, {"twice"})
    # A retry of the month-old event right after the upgrade is recognised.
    assert engine.accept(migrated, login("e1", T0), wall + 2 * HOUR) is None
    # Written again, the state is in the current format.
    assert orjson.loads(engine.snapshot(migrated))[0] == 2


@pytest.mark.parametrize("body", [[3, None, 0, None, [], {}, {}, {}], [], {"v": 2}])
def test_state_in_an_unknown_format_is_refused(body: object) -> None:
    with pytest.raises(ValueError, match="unknown contact state format"):
        Engine(RULES).restore(orjson.dumps(body), "c1")
