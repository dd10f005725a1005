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

from typing import Any, Literal

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
_SWITCH = "@"  # another: the switch (version and instant) that wrote the state
_LONG = 0xFFFF  # a 2-byte header length of this: the real one follows in 4 bytes


# Per contact, how its records ended when not applied: (topic, offset) -> "d" or "x".
Others = dict[tuple[str, int], str]


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
        # Per cached contact: the next input offset per topic its stored state already covers.
        self._covered: dict[str, dict[str, int]] = {}
        self._others: dict[str, Others] = {}  # only contacts that have any
        self._switched: dict[str, str] = {}  # contacts adopted by a switch: its tag
        self._dirty: set[str] = set()
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
            covered, others, body = _split(raw)
            covered.pop(_SWITCH, None)
            self._covered[contact] = covered
            if others:
                self._others[contact] = others
            self.limit.measured({contact: body})
            state = self._cache[contact] = self.engine.restore(body, contact)
        return state

    def lookup(
        self, contact: str, topic: str, offset: int
    ) -> tuple[ContactState | None, Outcome | None]:
        """The contact's state (`get`), and how the record at `offset` ended the first time
        if that state holds it already (a redelivery after a crash), else None."""
        state = self._cache.get(contact) or self.get(contact)
        covered = self._covered.get(contact)
        if covered is None or offset >= covered.get(topic, 0):
            return state, None
        others = self._others.get(contact)
        code = "" if others is None else others.get((topic, offset), "")
        return state, _CODES.get(code, "applied")

    def applied(self, state: ContactState, topic: str, offset: int, event: Event, at: int) -> None:
        """`event`, the record at `offset`, was applied at `at`, giving `state`."""
        contact = state.contact_id
        self._cache[contact] = state
        covered = self._covered.get(contact)
        if covered is None:
            covered = self._covered[contact] = {}
        covered[topic] = offset + 1
        self._since.setdefault(contact, []).append((event, at))
        self._dirty.add(contact)

    def adopt(self, state: ContactState, covered: dict[str, int], tag: str) -> None:
        """`state` replaces the contact's, holding every input record below `covered`; its
        stored header names the switch `tag` until it is written again."""
        contact = state.contact_id
        self._cache[contact] = state
        self._covered[contact] = dict(covered)
        self._others.pop(contact, None)
        self._switched[contact] = tag
        self._dirty.add(contact)

    def stored_switch(self, contact: str) -> tuple[str | None, bytes | None]:
        """The switch tag of the contact's stored state (None: not written by a switch),
        and the engine's bytes of it; (None, None) when nothing is stored."""
        raw = self.store.get(self.partition, keys.state_key(contact))
        if raw is None:
            return None, None
        covered, _, body = _split(raw)
        tag = covered.get(_SWITCH)
        return (tag if isinstance(tag, str) else None), body

    def held(self) -> set[str]:
        """Every contact with a state: stored, or cached and not yet written."""
        stored = self.store.scan(self.partition, keys.STATE)
        return {keys.contact_of(key) for key in stored} | self._cache.keys()

    def states(self) -> dict[str, ContactState]:
        """The cached states by contact (every state, where nothing was ever written)."""
        return self._cache

    def ended(self, contact: str, topic: str, offset: int, outcome: Outcome) -> None:
        """The contact's record at `offset` ended otherwise than applied.

        A contact with a state covers it from now on, as it covers an applied one: if that
        state is written with this batch (a deadline of it fired, say) and a crash loses the
        meta record, the redelivered record is counted as it ended, not applied again to a
        state whose clock has moved past it (where the state limit may judge it otherwise).
        """
        others = self._others.get(contact)
        if others is None:
            others = self._others[contact] = {}
        others[(topic, offset)] = "d" if outcome == "duplicate" else "x"
        covered = self._covered.get(contact)
        if covered is not None and offset >= covered.get(topic, 0):
            covered[topic] = offset + 1

    def touched(self, contact: str) -> None:
        """The contact's cached state changed (a deadline fired): write it with the batch."""
        self._dirty.add(contact)

    def rebuild(self, contact: str) -> ContactState | None:
        """The contact's state before the event being applied: its last written bytes with
        every event applied to it since. For an event that raised half-way through."""
        raw = self._written.get(contact)
        if raw is None:
            stored = self.store.get(self.partition, keys.state_key(contact))
            raw = None if stored is None else _split(stored)[2]
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
        covered, outcomes = self._covered, self._others
        written: dict[str, bytes] = {}
        out = []
        for contact in sorted(self._dirty):
            body = written[contact] = snapshot(cache[contact])
            header = _header(
                covered[contact], outcomes.get(contact), durable, self._switched.get(contact)
            )
            out.append((keys.state_key(contact), _join(header, body)))
        limit.measured(written)
        self._written = written
        self._since = {}
        self._dirty = set()
        self._switched = {}
        for contact, others in list(self._others.items()):
            for topic, offset in [k for k in others if k[1] < handled.get(k[0], 0)]:
                del others[(topic, offset)]
            if not others:  # else: redelivered records still to come
                del self._others[contact]
        if len(cache) > self.cache_size:
            # Never the states just written: they reach the local store only when their
            # flush completes, and the next batch is applied meanwhile (runtime.Runtime).
            excess = len(cache) - self.cache_size // 2
            for contact in [c for c in cache if c not in written][:excess]:
                del cache[contact]
                self._covered.pop(contact, None)
                self._others.pop(contact, None)
                limit.forget(contact)
        return out


def _header(
    covered: dict[str, int], others: Others | None, durable: dict[str, int], tag: str | None
) -> bytes:
    """What a stored state covers: next offsets, and how the records below them ended
    when they were not applied and the meta record does not count them yet; and the
    switch that wrote it, if one did."""
    if not others and tag is None:
        return orjson.dumps(covered)
    header: dict[str, object] = dict(covered)
    if tag is not None:
        header[_SWITCH] = tag
    distances: dict[str, dict[str, list[int]]] = {}
    for (topic, offset), code in sorted((others or {}).items()):
        if durable.get(topic, 0) <= offset < covered.get(topic, 0):
            # As distances below the covered offset: a few digits each.
            distances.setdefault(topic, {}).setdefault(code, []).append(covered[topic] - offset)
    if distances:
        header[_OUTCOMES] = distances
    return orjson.dumps(header)


def _join(header: bytes, state: bytes) -> bytes:
    """A table value: the header, then the engine's bytes."""
    if len(header) < _LONG:
        return len(header).to_bytes(2, "big") + header + state
    return _LONG.to_bytes(2, "big") + len(header).to_bytes(4, "big") + header + state


def _split(value: bytes) -> tuple[dict[str, Any], Others, bytes]:
    size, start = int.from_bytes(value[:2], "big"), 2
    if size == _LONG:
        size, start = int.from_bytes(value[2:6], "big"), 6
    header = orjson.loads(value[start : start + size])
    others: Others = {}
    for topic, codes in header.pop(_OUTCOMES, {}).items():
        below = header.get(topic, 0)
        for code, distances in codes.items():
            for distance in distances:
                others[(topic, below - distance)] = code
    return header, others, value[start + size :]
