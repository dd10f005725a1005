"""Replay: the streaming logic over a file of events, with event time as the clock.

`now` is the largest timestamp seen so far. Before each event, every contact's deadlines up to
the new `now` fire in (instant, contact id) order; then the event is applied. A line the worker
would dead-letter is reported and skipped, and changes nothing (not the clock): invalid input,
a timestamp too far past the wall clock (`check_future`), or an event that would take its
contact's state past the state limit (`state_limit`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from stream.core.changes import Change
from stream.core.evaluation.engine import DEFAULT_HORIZON, Engine
from stream.core.evaluation.state import ContactState
from stream.core.evaluation.state_limit import StateLimit
from stream.core.evaluation.timers import Timers
from stream.core.events import Event, check_future, check_size, decode_event, event_from_object
from stream.core.language.ast import RuleSet
from stream.core.limits import DEFAULT_LIMITS, Limits
from stream.errors import InvalidInput

InvalidHandler = Callable[[int, InvalidInput], None]


@dataclass(slots=True)
class Counts:
    """How every input message ended; the worker persists all but `invalid` with its state.

    Replay skips an invalid line (`invalid`); the worker sends it to the dead-letter topic
    (`dead_lettered`), or re-sends a message keyed wrongly or not at all under its contact id
    (`rekeyed`).
    """

    applied: int = 0
    duplicate: int = 0
    invalid: int = 0
    dead_lettered: int = 0
    rekeyed: int = 0


@dataclass(slots=True)
class Replayer:
    """Feeds events through one Engine with a global event-time clock."""

    engine: Engine
    now: int | None = None
    states: dict[str, ContactState] = field(default_factory=dict)
    counts: Counts = field(default_factory=Counts)
    timers: Timers = field(default_factory=Timers)
    limit: StateLimit | None = None  # None: states may grow without bound

    def feed(self, event: Event) -> list[Change]:
        """Apply one valid event; returns the change messages in the order produced.

        Raises InvalidInput (`state_limit`) for an event `limit` rejects; it changes nothing.
        """
        engine = self.engine
        state = self.states.get(event.contact_id)
        at = engine.accept(state, event, event.ts if self.now is None else self.now)
        if at is None:
            self.counts.duplicate += 1
            return []
        if self.limit is not None:
            self.limit.admit(state, event, at)
        due = self.timers.next_at()
        if due is not None and due <= at:
            changes = self.advance(at)
        else:
            self.now = at
            changes = []
        created = state is None
        state, caused = engine.on_item(state, event, at)
        if created:
            self.states[event.contact_id] = state
        self.counts.applied += 1
        changes.extend(caused)
        self.timers.arm(state.contact_id, engine.notify_at(state))
        return changes

    def advance(self, now: int) -> list[Change]:
        """Move the clock to `now`, firing every due deadline of every contact in time order."""
        if self.now is not None and now < self.now:
            now = self.now
        self.now = now
        engine, states, timers = self.engine, self.states, self.timers
        changes: list[Change] = []

        def fire(deadline: int, contact: str) -> bool:
            state = states[contact]
            changes.extend(engine.on_notify(state, deadline))
            timers.arm(contact, engine.notify_at(state))
            return True

        timers.fire(now, fire)
        return changes


def replay_lines(
    rules: RuleSet,
    lines: Iterable[bytes | str],
    until_us: int | None = None,
    *,
    horizon_us: int = DEFAULT_HORIZON,
    on_invalid: InvalidHandler | None = None,
    replayer: Replayer | None = None,
    limits: Limits = DEFAULT_LIMITS,
    max_bytes: int | None = None,
    max_state_bytes: int | None = None,
    wall_us: int | None = None,
    future_tolerance_us: int | None = None,
) -> Iterator[Change]:
    """Replay JSON lines; invalid lines go to `on_invalid(line_number, error)` and are skipped.

    The worker's checks, given the same settings: `max_bytes` and `limits` on each line (its
    line break aside), `max_state_bytes` on each contact's state, and with `wall_us` (the
    wall clock, read once by the caller) a timestamp more than `future_tolerance_us` after
    it is invalid.
    """
    if replayer is None:
        engine = Engine(rules, horizon_us=horizon_us, limits=limits)
        limit = None if max_state_bytes is None else StateLimit(engine, max_state_bytes)
        replayer = Replayer(engine, limit=limit)
    tolerance = None if wall_us is None else future_tolerance_us
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            if max_bytes is not None and len(line) > max_bytes:
                check_size(line, max_bytes)
            event = decode_event(line, limits)
            if tolerance is not None and wall_us is not None:
                check_future(event.ts, wall_us, tolerance)
            changes = replayer.feed(event)
        except InvalidInput as error:
            replayer.counts.invalid += 1
            if on_invalid is not None:
                on_invalid(number, error)
            continue
        yield from changes
    if until_us is not None:
        yield from replayer.advance(until_us)


def replay_objects(
    rules: RuleSet,
    events: Iterable[dict[str, Any]],
    until_us: int | None = None,
    horizon_us: int = DEFAULT_HORIZON,
) -> list[Change]:
    """Replay already-decoded event objects (which must be valid); returns all changes."""
    replayer = Replayer(Engine(rules, horizon_us=horizon_us))
    changes: list[Change] = []
    for obj in events:
        changes.extend(replayer.feed(event_from_object(obj)))
    if until_us is not None:
        changes.extend(replayer.advance(until_us))
    return changes
