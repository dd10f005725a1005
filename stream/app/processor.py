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
from typing import Any

import orjson

from stream.app import failures, keys
from stream.app.contacts import Contacts, Outcome
from stream.app.failures import PROCESSING_ERROR
from stream.app.ports import PartitionStore
from stream.app.records import DeadLetter, Effects, Policy, Record
from stream.core.evaluation.engine import Engine
from stream.core.evaluation.state import ContactState
from stream.core.evaluation.state_limit import StateLimit
from stream.core.evaluation.timers import Timers
from stream.core.events import Event, check_key, parse_event
from stream.core.replay import Counts
from stream.core.switch import carry_over, switch_contact
from stream.core.undercount import History
from stream.errors import InvalidInput
from stream.ops.metrics import PartitionCount

# The records and effects moved to stream/app/records.py; they are still read from here.
__all__ = [
    "PROCESSING_ERROR", "DeadLetter", "Effects", "IndexWrites", "Partition", "Policy", "Record",
]  # fmt: skip

log = logging.getLogger(__name__)


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
        self.watermark: int | None = None
        self.counts = Counts()
        # Next offset to read per input topic, written with the states it led to: a record
        # redelivered after a crash that already reached the table is skipped, not recounted.
        self.offsets: dict[str, int] = {}
        self._durable: dict[str, int] = {}  # `offsets` as the last meta record written has them
        self._index = IndexWrites(partition)
        self._timers = Timers(self._index)
        self._limit = StateLimit(engine, policy.max_state_bytes)
        self._contacts = Contacts(partition, engine, store, self._limit, cache_size)
        self._meta_dirty = False
        # The version its states are written under, in the meta once known (None: the meta
        # has none, as before the worker followed the definitions topic).
        self.rules_version: str | None = None
        self.switching: dict[str, Any] | None = None  # a switch begun, not yet made (meta)
        # The last switch made, its rules_version and at (meta): the follower announces it.
        self.switched: dict[str, Any] | None = None
        self._load()

    # --- recovery -------------------------------------------------------------------------

    def _load(self) -> None:
        raw = self.store.get(self.partition, keys.meta_key(self.partition))
        if raw is not None:
            meta = orjson.loads(raw)
            self.watermark = meta["watermark"]
            self.counts = Counts(**meta["counts"])
            self.offsets = meta["offsets"]
            self._durable = dict(self.offsets)
            self.rules_version = meta.get("rules_version")
            self.switching = meta.get("switching")
            self.switched = meta.get("switched")  # None in a meta written before it was kept
        index = self.store.scan(self.partition, keys.deadline_prefix(self.partition))
        self._timers.recover(keys.parse_deadline_key(key) for key in index)  # by deadline

    def use(self, engine: Engine) -> None:
        """Evaluate under `engine` from now on; between batches only (the cache is dropped)."""
        self.engine = engine
        self._limit = StateLimit(engine, self.policy.max_state_bytes)
        self._contacts = Contacts(
            self.partition, engine, self.store, self._limit, self._contacts.cache_size
        )
        self.rules_version = engine.rules_version
        self._meta_dirty = True

    def begin_switch(self, rules_version: str, now: int) -> None:
        """Note in the meta, written with the next `take_writes`, a switch about to be made:
        until it is, after a crash, the partition takes no input (`switching`)."""
        self.switching = {"rules_version": rules_version, "at": now}
        self._meta_dirty = True

    def switch(
        self,
        engine: Engine,
        rebuilt: dict[str, ContactState],
        now: int,
        effects: Effects,
        history: History | None = None,
    ) -> int:
        """Take every contact of the partition to its state under `engine` at `now`.

        A contact of `rebuilt` takes its rebuilt state; any other the partition holds (the
        rebuild saw none of its history: retention removed it) its own state carried over
        (`carry_over`). The `reason: rules` messages go to `effects`; the states, the deadline
        index and the meta's `rules_version` go with the next `take_writes`, so a switch is
        one batch, with `history` (what the rebuild re-read) in the meta's `switched`. A contact
        whose stored state this same switch wrote before a crash keeps its `seq` and publishes
        nothing again: its messages were acknowledged before it was written. Returns how many
        contacts were carried over.
        """
        old, live = self.engine, self._contacts
        tag = f"{engine.rules_version}@{now}"
        redo = self.switching is not None
        unseen = live.held() - rebuilt.keys()
        self.use(engine)
        for contact in sorted(rebuilt.keys() | unseen):
            state = rebuilt.get(contact)
            written, body = live.stored_switch(contact) if redo else (None, None)
            if written == tag and body is not None:
                kept = engine.restore(body, contact)
                if state is None:
                    state = kept  # carried over: the state this switch wrote
                else:
                    state.seq = kept.seq
            else:
                before = live.get(contact)
                if state is None:
                    assert before is not None  # held: stored or cached
                    state = carry_over(old, engine, before, now)
                effects.changes.extend(switch_contact(old, engine, before, state, now))
            self._contacts.adopt(state, self.offsets, tag)
            self._timers.arm(contact, engine.notify_at(state))
        self.switching = None
        self.note_switched(now, history)
        return len(unseen)

    def note_switched(self, now: int, history: History | None = None) -> None:
        """Note in the meta, written with the next `take_writes`, that the partition switched
        to the version it runs at `now`, for the follower to announce (`follow.unannounced`),
        and the `history` its rebuild re-read, for the undercount (`Versions.undercounted`)."""
        self.switched = {"rules_version": self.engine.rules_version, "at": now}
        if history is not None:
            self.switched["history"] = list(history)
        self._meta_dirty = True

    def states(self) -> dict[str, ContactState]:
        """The cached contact states (all of them in a partition never written)."""
        return self._contacts.states()

    @property
    def cache_size(self) -> int:
        """How many contact states stay cached between batches (about)."""
        return self._contacts.cache_size

    @cache_size.setter
    def cache_size(self, size: int) -> None:
        self._contacts.cache_size = size

    @property
    def pending_deadlines(self) -> int:
        return len(self._timers)

    def next_deadline(self) -> int | None:
        return self._timers.next_at()

    # --- one event ------------------------------------------------------------------------

    def handle(self, record: Record, wall_us: Callable[[], int], effects: Effects) -> None:
        """Apply one input message, or dead-letter or re-key it.

        Nothing raises here but a bug in the safety net itself or, with
        `stop_on_processing_error`, the unexpected error of one event.
        """
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
        try:
            event = self._parse(record, wall_us)
        except InvalidInput as error:
            self._dead_letter(record, error.reason, error.detail, effects)
            return
        except Exception as error:
            self._failed(record, None, error, effects)
            return
        if not self._keyed(record, event, effects):
            return
        try:
            self._apply(record, event, wall_us, effects)
        except InvalidInput as error:  # the state limit: nothing changed
            self._contacts.ended(event.contact_id, record.topic, record.offset, "dead_lettered")
            self._dead_letter(record, error.reason, error.detail, effects)
        except Exception as error:
            self._failed(record, event.contact_id, error, effects)

    def _parse(self, record: Record, wall_us: Callable[[], int]) -> Event:
        policy = self.policy
        tolerance = policy.future_tolerance_us
        # The one clock rule for bad timestamps, in both clock modes: the wall clock is read
        # for this check, and with `--clock event` for nothing else.
        return parse_event(
            record.value,
            max_bytes=policy.max_message_bytes,
            max_future_us=tolerance,
            now_us=None if tolerance is None else wall_us(),
            limits=policy.limits,
        )

    def _keyed(self, record: Record, event: Event, effects: Effects) -> bool:
        """Whether the record is keyed by its contact id; if not, re-key or dead-letter it."""
        try:
            check_key(record.key, event)
        except InvalidInput as error:
            if not record.key or self.policy.rekey_mismatched:
                # Its contact's state lives on another partition: send it there.
                effects.rekeyed.append((event.contact_id.encode(), record.value or b""))
                self.counts.rekeyed += 1
            else:
                self._dead_letter(record, error.reason, error.detail, effects)
            return False
        return True

    def _apply(
        self, record: Record, event: Event, wall_us: Callable[[], int], effects: Effects
    ) -> None:
        contacts, engine, counts = self._contacts, self.engine, self.counts
        contact = event.contact_id
        state, first = contacts.lookup(contact, record.topic, record.offset)
        if first is not None:
            # In this contact's stored state already (a crash kept the state but not the
            # partition's meta record). Duplicate detection alone would not do: its horizon
            # is 24 h of event time and a backfill batch can span days.
            self._recount(first, event.ts)
            return
        before = event.ts if self.watermark is None else self.watermark
        if self.policy.clock == "wall":
            before = max(before, wall_us())
        at = engine.accept(state, event, before)
        if at is None:
            counts.duplicate += 1
            contacts.ended(contact, record.topic, record.offset, "duplicate")
            return
        self._limit.admit(state, event, at)
        state, changes = engine.on_item(state, event, at)
        self._timers.arm(contact, engine.notify_at(state))
        contacts.applied(state, record.topic, record.offset, event, at)  # last: it succeeded
        self.watermark = event.ts if self.watermark is None else max(self.watermark, event.ts)
        counts.applied += 1
        effects.changes.extend(changes)
        if changes:
            effects.caused.append((record.timestamp, len(changes)))

    def _recount(self, first: Outcome, ts: int) -> None:
        """Count a record skipped as already stored the way it ended the first time."""
        if first == "applied":
            self.counts.applied += 1
            self.watermark = ts if self.watermark is None else max(self.watermark, ts)
        elif first == "duplicate":
            self.counts.duplicate += 1
        else:
            self.counts.dead_lettered += 1

    def _failed(
        self, record: Record, contact: str | None, error: Exception, effects: Effects
    ) -> None:
        """The safety net: an unexpected error handling one record dead-letters it alone.

        Its contact's state is put back as it was before the record; a second failure in
        doing so, or `stop_on_processing_error`, stops the worker.
        """
        if self.policy.stop_on_processing_error:
            raise error
        if contact is not None:
            state = self._contacts.rebuild(contact)
            if state is not None:
                self._rearm(state)
            self._contacts.ended(contact, record.topic, record.offset, "dead_lettered")
        detail = failures.report(record.topic, record.partition, record.offset, error)
        self._dead_letter(record, PROCESSING_ERROR, detail, effects)

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
            state = self._contacts.get(contact)
            if state is None:
                return False
            effects.changes.extend(self.engine.on_notify(state, deadline))
            effects.late_us.append(now - deadline)
            self._rearm(state)
            return True

        self._timers.fire(now, fire)

    # --- state ----------------------------------------------------------------------------

    def _rearm(self, state: ContactState) -> None:
        self._contacts.touched(state.contact_id)
        self._timers.arm(state.contact_id, self.engine.notify_at(state))

    def take_writes(self) -> list[tuple[bytes, bytes | None]]:
        """The table writes of everything since the last call, in crash-safe order.

        Index additions come first and removals last, so any prefix that survives a crash
        leaves every armed deadline in the index (stale extras are dropped at sweep time).
        """
        index = self._index
        writes: list[tuple[bytes, bytes | None]] = [(k, b"1") for k in sorted(index.added)]
        writes.extend(self._contacts.writes(self._durable, self.offsets))
        writes.extend((k, None) for k in sorted(index.removed))
        if self._meta_dirty or writes:
            meta: dict[str, object] = {
                "watermark": self.watermark,
                "counts": stored_counts(self.counts),
                "offsets": self.offsets,
            }
            if self.rules_version is not None:
                meta["rules_version"] = self.rules_version
            if self.switching is not None:
                meta["switching"] = self.switching
            if self.switched is not None:
                meta["switched"] = self.switched
            writes.append((keys.meta_key(self.partition), orjson.dumps(meta)))
            self._durable = dict(self.offsets)
        index.added = set()
        index.removed = set()
        self._meta_dirty = False
        return writes


def stored_counts(counts: Counts) -> dict[PartitionCount, int]:
    """A partition's counts as its meta record and the status file hold them."""
    return {
        "applied": counts.applied,
        "duplicate": counts.duplicate,
        "dead_lettered": counts.dead_lettered,
        "rekeyed": counts.rekeyed,
    }
