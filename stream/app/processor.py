"""One input partition's processing: events and deadlines in, change messages and writes out.

This is what happens to one event in the worker (`Partition.handle`), and what happens when
time passes (`Partition.sweep`). It mirrors `stream.core.replay.Replayer` with the partition's
event-time watermark as the clock, so that with `--clock event` the worker and
`segstream replay` publish the same changes. No Faust here: the agent feeds it records and
sends what it returns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from stream.app import keys
from stream.app.ports import PartitionStore
from stream.core.changes import Change
from stream.core.evaluation.engine import Engine
from stream.core.evaluation.state import ContactState
from stream.core.evaluation.timers import Timers
from stream.core.events import check_key, parse_event
from stream.core.replay import Counts
from stream.errors import InvalidInput

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Record:
    """One input message, as read from Kafka."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp: float = 0.0  # the Kafka record's timestamp, seconds since the epoch


@dataclass(slots=True)
class DeadLetter:
    """An input message rejected with a reason, for the dead-letter topic."""

    record: Record
    reason: str
    detail: str


@dataclass(slots=True)
class Policy:
    """How the worker treats time and doubtful input."""

    clock: str = "wall"  # "wall" or "event"
    future_tolerance_us: int | None = None
    max_message_bytes: int | None = None
    rekey_mismatched: bool = False  # False: a wrong key is dead-lettered


@dataclass(slots=True)
class Effects:
    """What a batch must publish (before its state is written) and then write."""

    changes: list[Change] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    rekeyed: list[tuple[bytes, bytes]] = field(default_factory=list)
    # For the metrics only: (record timestamp, changes it caused) per input that caused any,
    # and how far past its instant each fired deadline was (microseconds).
    caused: list[tuple[float, int]] = field(default_factory=list)
    late_us: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.changes or self.dead_letters or self.rekeyed)


class IndexWrites:
    """The deadline index's pending writes since the last batch, as `Timers` keeps them."""

    __slots__ = ("added", "partition", "removed")

    def __init__(self, partition: int) -> None:
        self.partition = partition
        self.added: set[bytes] = set()
        self.removed: set[bytes] = set()

    def add(self, deadline: int, contact: str) -> None:
        key = keys.deadline_key(self.partition, deadline, contact)
        self.added.add(key)
        self.removed.discard(key)

    def remove(self, deadline: int, contact: str) -> None:
        key = keys.deadline_key(self.partition, deadline, contact)
        self.removed.add(key)
        self.added.discard(key)


class Partition:
    """The worker's view of one input partition: clock, counters, deadlines, state cache."""

    def __init__(
        self,
        partition: int,
        engine: Engine,
        store: PartitionStore,
        policy: Policy,
        *,
        cache_size: int = 100_000,
    ) -> None:
        self.partition = partition
        self.engine = engine
        self.store = store
        self.policy = policy
        self.cache_size = cache_size
        self.watermark: int | None = None
        self.counts = Counts()
        # Next offset to read per input topic, written with the states it led to: a record
        # redelivered after a crash that already reached the table is skipped, not recounted.
        self.offsets: dict[str, int] = {}
        self._index = IndexWrites(partition)
        self._timers = Timers(self._index)
        self._cache: dict[str, ContactState] = {}
        # Per cached contact: the next input offset per topic its stored state already covers.
        self._applied: dict[str, dict[str, int]] = {}
        self._dirty: set[str] = set()
        self._meta_dirty = False
        self._load()

    # --- recovery -------------------------------------------------------------------------

    def _load(self) -> None:
        raw = self.store.get(self.partition, keys.meta_key(self.partition))
        if raw is not None:
            meta = orjson.loads(raw)
            self.watermark = meta["watermark"]
            self.counts = Counts(**meta["counts"])
            self.offsets = meta["offsets"]
        index = self.store.scan(self.partition, keys.deadline_prefix(self.partition))
        self._timers.recover(keys.parse_deadline_key(key) for key in index)  # by deadline

    @property
    def pending_deadlines(self) -> int:
        return len(self._timers)

    def next_deadline(self) -> int | None:
        return self._timers.next_at()

    # --- one event ------------------------------------------------------------------------

    def handle(self, record: Record, wall_us: Callable[[], int], effects: Effects) -> None:
        """Apply one input message, or dead-letter or re-key it."""
        expected = self.offsets.get(record.topic)
        if expected is not None and record.offset != expected:
            if record.offset < expected:
                return  # its effects were written before a crash: a redelivery
            # Transaction markers take offsets; anything else is input Faust did not deliver.
            log.warning(
                "%s[%d]: offsets %d..%d were not delivered",
                record.topic, record.partition, expected, record.offset - 1,
            )  # fmt: skip
        self.offsets[record.topic] = record.offset + 1
        self._meta_dirty = True
        policy = self.policy
        wall = policy.clock == "wall"
        try:
            event = parse_event(
                record.value,
                max_bytes=policy.max_message_bytes,
                max_future_us=policy.future_tolerance_us if wall else None,
                now_us=wall_us() if wall else None,
            )
        except InvalidInput as error:
            self._dead_letter(record, error.reason, error.detail, effects)
            return
        contact = event.contact_id
        try:
            check_key(record.key, event)
        except InvalidInput as error:
            if not record.key or policy.rekey_mismatched:
                # Its contact's state lives on another partition: send it there.
                effects.rekeyed.append((contact.encode(), record.value))
                self.counts.rekeyed += 1
            else:
                self._dead_letter(record, error.reason, error.detail, effects)
            return
        state = self._state(contact)
        applied = self._applied.setdefault(contact, {})
        if record.offset < applied.get(record.topic, 0):
            # In this contact's stored state already (a crash kept the state but not the
            # partition's meta record). Duplicate detection alone would not do: its horizon
            # is 24 h of event time and a backfill batch can span days.
            self.counts.applied += 1
            self.watermark = max(self.watermark or event.ts, event.ts)
            return
        before = event.ts if self.watermark is None else self.watermark
        if wall:
            before = max(before, wall_us())
        at = self.engine.accept(state, event, before)
        if at is None:
            self.counts.duplicate += 1
            return
        self.watermark = event.ts if self.watermark is None else max(self.watermark, event.ts)
        state, changes = self.engine.on_item(state, event, at)
        self.counts.applied += 1
        applied[record.topic] = record.offset + 1
        effects.changes.extend(changes)
        if changes:
            effects.caused.append((record.timestamp, len(changes)))
        self._cache[contact] = state
        self._rearm(state)

    def _dead_letter(self, record: Record, reason: str, detail: str, effects: Effects) -> None:
        effects.dead_letters.append(DeadLetter(record, reason, detail))
        self.counts.dead_lettered += 1

    # --- time -----------------------------------------------------------------------------

    def now(self, wall_us: Callable[[], int]) -> int | None:
        """The partition's clock: its watermark, or with the wall clock the later of both."""
        if self.policy.clock == "event":
            return self.watermark
        wall = wall_us()
        return wall if self.watermark is None else max(self.watermark, wall)

    def sweep(self, now: int, effects: Effects) -> None:
        """Fire every deadline up to `now`, each contact's in time order, at its instant."""

        def fire(deadline: int, contact: str) -> bool:
            state = self._state(contact)
            if state is None:
                return False
            effects.changes.extend(self.engine.on_notify(state, deadline))
            effects.late_us.append(now - deadline)
            self._rearm(state)
            return True

        self._timers.fire(now, fire)

    # --- state ----------------------------------------------------------------------------

    def _state(self, contact: str) -> ContactState | None:
        state = self._cache.get(contact)
        if state is None:
            raw = self.store.get(self.partition, keys.state_key(contact))
            if raw is None:
                return None
            covered, body = _split(raw)
            self._applied[contact] = covered
            state = self._cache[contact] = self.engine.restore(body, contact)
        return state

    def _rearm(self, state: ContactState) -> None:
        self._dirty.add(state.contact_id)
        self._timers.arm(state.contact_id, self.engine.notify_at(state))

    def take_writes(self) -> list[tuple[bytes, bytes | None]]:
        """The table writes of everything since the last call, in crash-safe order.

        Index additions come first and removals last, so any prefix that survives a crash
        leaves every armed deadline in the index (stale extras are dropped at sweep time).
        """
        index = self._index
        writes: list[tuple[bytes, bytes | None]] = [(k, b"1") for k in sorted(index.added)]
        cache, applied = self._cache, self._applied
        snapshot = self.engine.snapshot
        writes.extend(
            (keys.state_key(c), _join(applied.get(c, {}), snapshot(cache[c])))
            for c in sorted(self._dirty)
        )
        writes.extend((k, None) for k in sorted(index.removed))
        if self._meta_dirty or writes:
            meta = {
                "watermark": self.watermark,
                "counts": _counts_dict(self.counts),
                "offsets": self.offsets,
            }
            writes.append((keys.meta_key(self.partition), orjson.dumps(meta)))
        written = self._dirty
        index.added = set()
        index.removed = set()
        self._dirty = set()
        self._meta_dirty = False
        if len(cache) > self.cache_size:
            # Never the states just written: they reach the local store only when their
            # flush completes, and the next batch is applied meanwhile (agent.Runtime).
            excess = len(cache) - self.cache_size // 2
            for contact in [c for c in cache if c not in written][:excess]:
                del cache[contact]
                applied.pop(contact, None)
        return writes


def _join(covered: dict[str, int], state: bytes) -> bytes:
    """A table value: which input offsets the state covers, then the engine's bytes."""
    header = orjson.dumps(covered)
    return len(header).to_bytes(2, "big") + header + state


def _split(value: bytes) -> tuple[dict[str, int], bytes]:
    size = int.from_bytes(value[:2], "big")
    covered: dict[str, int] = orjson.loads(value[2 : 2 + size])
    return covered, value[2 + size :]


def _counts_dict(counts: Counts) -> dict[str, int]:
    return {
        "applied": counts.applied,
        "duplicate": counts.duplicate,
        "dead_lettered": counts.dead_lettered,
        "rekeyed": counts.rekeyed,
    }
