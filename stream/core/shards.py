"""One job's share of a parallel replay: its own contacts' events, every line's clock.

Contacts are independent but for the clock: replay's `now` is the largest timestamp of the
events applied so far, whichever contact they belong to. So every job reads every line;
it applies the events of its own contacts (`shard_of`) and lets every other valid line move
its clock as if applied (checked whole only when its timestamp would count). A line whose
owner does not apply it (a duplicate, or one past the state limit) and whose timestamp is
past the clock would have moved the clock wrongly in the other jobs: its owner reports it
(`anomalies`), and the caller runs again with those lines `known` not to move the clock,
until the reported lines are those known (a fixed point: the earliest wrong line moves later
with every round, and in practice there is none).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import orjson

from stream.core.changes import Change
from stream.core.events import Event, check_future, check_size, decode_event, validate_decoded
from stream.core.limits import DEFAULT_LIMITS, Limits
from stream.core.replay import Replayer
from stream.core.timefmt import parse_ts
from stream.errors import InvalidInput

InvalidHandler = Callable[[int, InvalidInput], None]


def shard_of(contact_id: str, jobs: int) -> int:
    """The job (0 .. jobs-1) that owns `contact_id`: the same on every run and machine."""
    return zlib.crc32(contact_id.encode("utf-8", "surrogatepass")) % jobs


@dataclass(slots=True)
class Shard:
    """Job `index` of `jobs`, replaying its contacts through `replayer`."""

    replayer: Replayer
    index: int
    jobs: int
    known: frozenset[int] = frozenset()  # foreign lines that do not move the clock
    anomalies: set[int] = field(default_factory=set)  # own lines that would have moved it
    first: int | None = None  # the earliest timestamp of this job's valid events

    def feed(self, number: int, event: Event, settle: Callable[[], None]) -> list[Change]:
        """Apply line `number`, an event of this job's contacts, whose clock may lag behind.

        The caller has settled the clock (`settle`) unless no waiting line can change how
        the event applies: all are at or before it and it repeats no recent event id. When it
        is not applied after all, the clock is settled to say whether it is an anomaly.
        Raises InvalidInput for an event past the state limit, as `Replayer.feed` does.
        """
        replayer = self.replayer
        if self.first is None or event.ts < self.first:
            self.first = event.ts
        duplicates = replayer.counts.duplicate
        try:
            changes = replayer.feed(event)
        except InvalidInput:
            self._not_applied(number, event, settle)
            raise
        if replayer.counts.duplicate != duplicates:
            self._not_applied(number, event, settle)
        return changes

    def _not_applied(self, number: int, event: Event, settle: Callable[[], None]) -> None:
        settle()
        now = self.replayer.now
        if now is None or event.ts > now:
            self.anomalies.add(number)


def route(line: bytes | str, jobs: int) -> tuple[int, dict[str, object] | None]:
    """The job that owns `line`, and the line decoded when it is a JSON object.

    A line with no string `contact_id` is job 0's, to report.
    """
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return 0, None
    if type(obj) is not dict:
        return 0, None
    contact = obj.get("contact_id")
    return (shard_of(contact, jobs) if type(contact) is str else 0), obj


@dataclass(slots=True)
class _Checks:
    limits: Limits
    max_bytes: int | None
    wall_us: int | None
    tolerance_us: int | None

    def event(self, line: bytes | str, obj: dict[str, object] | None = None) -> Event:
        """The worker's checks on one line; raises InvalidInput. `obj`: the line already
        decoded to an object, validated as it is (all `decode_event` does after a decode
        that gives an object), for the same event or error without a second decode."""
        if self.max_bytes is not None and len(line) > self.max_bytes:
            check_size(line, self.max_bytes)
        if obj is None:
            event = decode_event(line, self.limits)
        else:
            event = validate_decoded(obj, self.limits)
        if self.tolerance_us is not None and self.wall_us is not None:
            check_future(event.ts, self.wall_us, self.tolerance_us)
        return event


def replay_shard(
    shard: Shard,
    lines: Iterable[bytes | str],
    until_us: int | None = None,
    *,
    on_invalid: InvalidHandler | None = None,
    limits: Limits = DEFAULT_LIMITS,
    max_bytes: int | None = None,
    wall_us: int | None = None,
    future_tolerance_us: int | None = None,
) -> Iterator[Change]:
    """`replay_lines` for the contacts of one shard; the same checks, given the same settings.

    Only the owner of a line checks it whole and reports it when invalid. Another job's
    lines wait, with their timestamps, until this job needs its clock: at the end, or for
    an event of its own that one of them could change (one earlier than the latest
    waiting, or repeating a recent event id). Then the latest of them that passes the
    checks moves it; an applied event of its own moves it past them all. At the end the clock
    moves to the last line's (or `until_us`), firing this job's deadlines up to it as one
    job would have fired them on the way.

    Most lines are another job's, so their cost is kept low: a waiting line's timestamp is
    parsed only when the next event of this job's own is not surely at or after it.
    """
    replayer, index, jobs, known = shard.replayer, shard.index, shard.jobs, shard.known
    checks = _Checks(limits, max_bytes, wall_us, None if wall_us is None else future_tolerance_us)
    clock = _Clock(replayer, checks)
    states, pending = replayer.states, clock.pending
    for number, line in enumerate(lines, start=1):
        if not line or line.isspace():
            continue
        owner, obj = route(line, jobs)
        stamp = None if obj is None else obj.get("timestamp")
        if owner != index:
            if type(stamp) is str and number not in known:
                pending.append((number, line, stamp))
            continue
        try:
            event = checks.event(line, obj)
            if pending and not _all_at_or_before(pending, stamp):  # a valid event's: a str
                clock.resolve()
            if clock.waiting or pending:
                state = states.get(event.contact_id)
                if (clock.waiting and event.ts < clock.latest) or (
                    state is not None and event.event_id in state.recent
                ):
                    clock.settle()
            changes = shard.feed(number, event, clock.settle)
        except InvalidInput as error:
            replayer.counts.invalid += 1
            if on_invalid is not None:
                on_invalid(number, error)
            continue
        # Applied or not, the clock is now at or past every line still pending (`feed`
        # settles it when the event is not applied).
        pending.clear()
        if clock.waiting and replayer.now is not None and replayer.now >= clock.latest:
            clock.waiting.clear()  # applied: the clock is past every waiting line
        yield from changes
    clock.settle()
    end = replayer.now if until_us is None else until_us
    if end is not None:
        yield from replayer.advance(end)


def _all_at_or_before(pending: list[tuple[int, bytes | str, str]], stamp: object) -> bool:
    """Whether every pending timestamp is surely at or before `stamp`, a valid event's.

    Two RFC 3339 UTC timestamps written alike (`T`, `Z`, as many fraction digits) compare
    as their text does; anything else is left to `_Clock.resolve` to parse. A pending
    timestamp that is no valid timestamp at all is dropped there too.
    """
    if type(stamp) is not str or stamp[10:11] != "T" or stamp[-1:] != "Z":
        return False
    size = len(stamp)
    for _, _, other in pending:
        if len(other) != size or other > stamp or other[10:11] != "T" or other[-1:] != "Z":
            return False
    return True


@dataclass(slots=True)
class _Clock:
    """Another job's lines that may move this job's clock: `pending` with the timestamps
    still unread, `waiting` with them parsed and past the clock (their latest: `latest`)."""

    replayer: Replayer
    checks: _Checks
    pending: list[tuple[int, bytes | str, str]] = field(default_factory=list)
    waiting: list[tuple[int, int, bytes | str]] = field(default_factory=list)  # ts, number, line
    latest: int = 0

    def wait(self, number: int, line: bytes | str, stamp: str) -> None:
        """Keep line `number` if `stamp` is a timestamp past the clock."""
        ts = _timestamp(stamp)
        now = self.replayer.now
        if ts is not None and (now is None or ts > now):
            if not self.waiting or ts > self.latest:
                self.latest = ts
            self.waiting.append((ts, number, line))

    def resolve(self) -> None:
        """Parse the pending timestamps, keeping the lines past the clock waiting."""
        for number, line, stamp in self.pending:
            self.wait(number, line, stamp)
        self.pending.clear()

    def settle(self) -> None:
        """Move the clock to the latest waiting line that passes the checks; forget them all."""
        self.resolve()
        replayer, waiting = self.replayer, self.waiting
        waiting.sort(reverse=True)
        for ts, _, line in waiting:
            if replayer.now is not None and ts <= replayer.now:
                break
            try:
                self.checks.event(line)
            except InvalidInput:
                continue
            replayer.now = ts
            break
        waiting.clear()


def _timestamp(stamp: str) -> int | None:
    try:
        return parse_ts(stamp)
    except ValueError:
        return None
