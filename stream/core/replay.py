"""Replay: the streaming logic over a file of events, with event time as the clock.

`now` is the largest timestamp seen so far. Before each event, every contact's deadlines up to
the new `now` fire in (instant, contact id) order; then the event is applied.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from stream.core.ast import RuleSet
from stream.core.engine import DEFAULT_HORIZON, Change, Engine
from stream.core.events import Event, decode_event, event_from_object
from stream.core.state import ContactState
from stream.errors import InvalidInput

InvalidHandler = Callable[[int, InvalidInput], None]


@dataclass(slots=True)
class Counts:
    """How every input line ended: applied, duplicate or invalid."""

    applied: int = 0
    duplicates: int = 0
    invalid: int = 0


@dataclass(slots=True)
class Replayer:
    """Feeds events through one Engine with a global event-time clock."""

    engine: Engine
    now: int | None = None
    states: dict[str, ContactState] = field(default_factory=dict)
    counts: Counts = field(default_factory=Counts)
    _timers: list[tuple[int, str]] = field(default_factory=list)
    _armed: dict[str, int] = field(default_factory=dict)

    def feed(self, event: Event) -> list[Change]:
        """Apply one valid event; returns the change messages in the order produced."""
        engine = self.engine
        state = self.states.get(event.contact_id)
        now = event.ts if self.now is None else self.now
        # The membership test first: most events are not retries, and it is the cheap part.
        if (
            state is not None
            and event.event_id in state.recent
            and engine.is_duplicate(state, event, now)
        ):
            self.counts.duplicates += 1
            return []
        now = max(now, event.ts)
        timers = self._timers
        if timers and timers[0][0] <= now:
            changes = self.advance(now)
        else:
            self.now = now
            changes = []
        if state is None:
            state = self.states[event.contact_id] = engine.new_state(event.contact_id)
        outcome = engine.apply_new(state, event, now)
        self.counts.applied += 1
        changes.extend(outcome.changes)
        self._arm(outcome.state)
        return changes

    def advance(self, now: int) -> list[Change]:
        """Move the clock to `now`, firing every due deadline of every contact in time order."""
        if self.now is not None and now < self.now:
            now = self.now
        self.now = now
        changes: list[Change] = []
        timers = self._timers
        while timers and timers[0][0] <= now:
            instant, contact = heapq.heappop(timers)
            if self._armed.get(contact) != instant:
                continue  # superseded by a later arming
            del self._armed[contact]
            state = self.states[contact]
            changes.extend(self.engine.advance(state, instant))
            self._arm(state)
        return changes

    def _arm(self, state: ContactState) -> None:
        deadline = self.engine.next_deadline(state)
        contact = state.contact_id
        if deadline is None:
            self._armed.pop(contact, None)
        elif self._armed.get(contact) != deadline:
            self._armed[contact] = deadline
            heapq.heappush(self._timers, (deadline, contact))


def replay_lines(
    rules: RuleSet,
    lines: Iterable[bytes | str],
    until_us: int | None = None,
    *,
    horizon_us: int = DEFAULT_HORIZON,
    on_invalid: InvalidHandler | None = None,
    replayer: Replayer | None = None,
) -> Iterator[Change]:
    """Replay JSON lines; invalid lines go to `on_invalid(line_number, error)` and are skipped."""
    replayer = replayer or Replayer(Engine(rules, horizon_us=horizon_us))
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            event = decode_event(line)
        except InvalidInput as error:
            replayer.counts.invalid += 1
            if on_invalid is not None:
                on_invalid(number, error)
            continue
        yield from replayer.feed(event)
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
