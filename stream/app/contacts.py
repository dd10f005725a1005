"""A partition's contact states: cached, loaded from the store, and what each stored one covers.

Each stored state is prefixed with a header saying which input records it already holds: per
input topic the next offset it covers, and how the records of the batch that wrote it ended
when they were not applied (duplicates, dead letters). A crash can persist some states of a
batch without the partition's meta record; the records redelivered then are skipped where a
state covers them and counted as they ended the first time, so the counters stay exact.

The last written bytes of each contact, with the events applied to it since, also give back
its state as it was before an event that failed half-way (`rebuild`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import orjson

from stream.app import keys
from stream.app.ports import PartitionStore
from stream.core.evaluation.engine import Engine
from stream.core.evaluation.state import ContactState
from stream.core.evaluation.state_limit import StateLimit
from stream.core.events import Event

Outcome = Literal["applied", "duplicate", "dead_lettered"]
_CODES: dict[str, Outcome] = {"d": "duplicate", "x": "dead_lettered"}
_OUTCOMES = "~"  # a header key no Kafka topic can have: the batch's other outcomes
_LONG = 0xFFFF  # a 2-byte header length of this: the real one follows in 4 bytes


@dataclass(slots=True)
class _Covered:
    """What one contact's stored state holds of the input."""

    offsets: dict[str, int] = field(default_factory=dict)  # topic -> next offset covered
    # (topic, offset) -> "d" or "x", for records of the batch that wrote it
    others: dict[tuple[str, int], str] = field(default_factory=dict)


class Contacts:
    """The contact states of one input partition, loaded on first use and written per batch."""

    def __init__(
        self,
        partition: int,
        engine: Engine,
        store: PartitionStore,
        limit: StateLimit,
        cache_size: int,
    ) -> None:
        self.partition = partition
        self.engine = engine
        self.store = store
        self.limit = limit
        self.cache_size = cache_size
        self._cache: dict[str, ContactState] = {}
        self._covered: dict[str, _Covered] = {}
        self._dirty: set[str] = set()
        self._pending: set[str] = set()  # contacts with outcomes of records not yet counted
        # Since the last `writes`: the bytes it wrote, and per contact the events applied.
        self._written: dict[str, bytes] = {}
        self._since: dict[str, list[tuple[Event, int]]] = {}

    def get(self, contact: str) -> ContactState | None:
        """The contact's state, from the cache or the store; None for a new contact."""
        state = self._cache.get(contact)
        if state is None:
            raw = self.store.get(self.partition, keys.state_key(contact))
            if raw is None:
                return None
            covered, body = _split(raw)
            self._covered[contact] = covered
            if covered.others:
                self._pending.add(contact)
            self.limit.measured(contact, len(body))
            state = self._cache[contact] = self.engine.restore(body, contact)
        return state

    def first_outcome(self, contact: str, topic: str, offset: int) -> Outcome | None:
        """How the record ended the first time if the contact's stored state holds it already
        (a redelivery after a crash); None when it is to be handled now. Call `get` first."""
        covered = self._covered.get(contact)
        if covered is None or offset >= covered.offsets.get(topic, 0):
            return None
        return _CODES.get(covered.others.get((topic, offset), ""), "applied")

    def applied(self, state: ContactState, topic: str, offset: int, event: Event, at: int) -> None:
        """`event`, the record at `offset`, was applied at `at`, giving `state`."""
        contact = state.contact_id
        self._cache[contact] = state
        covered = self._covered.get(contact)
        if covered is None:
            covered = self._covered[contact] = _Covered()
        covered.offsets[topic] = offset + 1
        self._since.setdefault(contact, []).append((event, at))
        self._dirty.add(contact)

    def ended(self, contact: str, topic: str, offset: int, outcome: Outcome) -> None:
        """The contact's record at `offset` ended otherwise than applied."""
        covered = self._covered.get(contact)
        if covered is None:
            covered = self._covered[contact] = _Covered()
        covered.others[(topic, offset)] = "d" if outcome == "duplicate" else "x"
        self._pending.add(contact)

    def touched(self, contact: str) -> None:
        """The contact's cached state changed (a deadline fired): write it with the batch."""
        self._dirty.add(contact)

    def rebuild(self, contact: str) -> ContactState | None:
        """The contact's state before the event being applied: its last written bytes with
        every event applied to it since. For an event that raised half-way through."""
        raw = self._written.get(contact)
        if raw is None:
            stored = self.store.get(self.partition, keys.state_key(contact))
            raw = None if stored is None else _split(stored)[1]
        engine = self.engine
        state = None if raw is None else engine.restore(raw, contact)
        for event, at in self._since.get(contact, ()):
            state, _ = engine.on_item(state, event, at)
        self.limit.forget(contact)
        if state is None:  # a new contact: nothing of it is kept
            self._cache.pop(contact, None)
            self._dirty.discard(contact)
        else:
            self._cache[contact] = state
        return state

    def writes(self, durable: dict[str, int], handled: dict[str, int]) -> list[tuple[bytes, bytes]]:
        """The states changed since the last call, each with its header, in contact order.

        `durable` is the partition's next offsets as its last meta record has them: outcomes
        below them are counted there and need no header. `handled` is what the meta record
        written after these states will have: outcomes below it are forgotten once written.
        """
        snapshot, cache, limit = self.engine.snapshot, self._cache, self.limit
        written: dict[str, bytes] = {}
        out = []
        for contact in sorted(self._dirty):
            body = written[contact] = snapshot(cache[contact])
            limit.measured(contact, len(body))
            out.append((keys.state_key(contact), _join(self._covered[contact], body, durable)))
        self._written = written
        self._since = {}
        self._dirty = set()
        for contact in list(self._pending):
            covered = self._covered.get(contact)
            if covered is not None:
                others = covered.others
                for topic, offset in [k for k in others if k[1] < handled.get(k[0], 0)]:
                    del others[(topic, offset)]
                if others:
                    continue  # redelivered records still to come
            self._pending.discard(contact)
        if len(cache) > self.cache_size:
            # Never the states just written: they reach the local store only when their
            # flush completes, and the next batch is applied meanwhile (runtime.Runtime).
            excess = len(cache) - self.cache_size // 2
            for contact in [c for c in cache if c not in written][:excess]:
                del cache[contact]
                self._covered.pop(contact, None)
                self._pending.discard(contact)
                limit.forget(contact)
        return out


def _join(covered: _Covered, state: bytes, durable: dict[str, int]) -> bytes:
    """A table value: the header of what the state covers, then the engine's bytes."""
    header: dict[str, object] = dict(covered.offsets)
    others: dict[str, dict[str, list[int]]] = {}
    for (topic, offset), code in sorted(covered.others.items()):
        if not durable.get(topic, 0) <= offset < covered.offsets.get(topic, 0):
            continue  # counted in the meta record already, or to be handled anew
        # As distances below the covered offset: a few digits each.
        others.setdefault(topic, {}).setdefault(code, []).append(covered.offsets[topic] - offset)
    if others:
        header[_OUTCOMES] = others
    encoded = orjson.dumps(header)
    if len(encoded) < _LONG:
        return len(encoded).to_bytes(2, "big") + encoded + state
    return _LONG.to_bytes(2, "big") + len(encoded).to_bytes(4, "big") + encoded + state


def _split(value: bytes) -> tuple[_Covered, bytes]:
    size, start = int.from_bytes(value[:2], "big"), 2
    if size == _LONG:
        size, start = int.from_bytes(value[2:6], "big"), 6
    header = orjson.loads(value[start : start + size])
    others = header.pop(_OUTCOMES, {})
    covered = _Covered(header)
    for topic, codes in others.items():
        below = header.get(topic, 0)
        for code, distances in codes.items():
            for distance in distances:
                covered.others[(topic, below - distance)] = code
    return covered, value[start + size :]
