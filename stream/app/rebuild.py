"""One partition's contact states rebuilt under a new version from its retained input.

The records are applied as the live path applies them (`Partition.handle`, the same checks,
the partition's event-time clock), to a scratch `Partition` that keeps every state in memory
and writes nothing: a rebuild is thrown away whole if it does not reach its switch.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable, Iterator

from stream.app.ports import Clock, Writes
from stream.app.processor import Effects, Partition, Policy, Record
from stream.core.evaluation.engine import Engine
from stream.core.evaluation.state import ContactState
from stream.core.undercount import History


class _Nothing:
    """A `PartitionStore` that holds nothing and keeps nothing."""

    def get(self, partition: int, key: bytes) -> bytes | None:
        return None

    def write(self, partition: int, writes: Writes) -> None:
        return None

    def scan(self, partition: int, prefix: bytes) -> Iterator[bytes]:
        return iter(())


class Rebuild:
    """Partition `partition`'s states under `engine`, fed its input records in order."""

    def __init__(self, partition: int, engine: Engine, policy: Policy, clock: Clock) -> None:
        self.partition = partition
        self.engine = engine
        self.clock = clock  # only for the future-timestamp check, as the live path reads it
        # Event time, whatever the live clock: a re-read cannot know the wall clock of then.
        scratch_policy = dataclasses.replace(policy, clock="event")
        self._scratch = Partition(
            partition, engine, _Nothing(), scratch_policy, cache_size=sys.maxsize
        )
        self.records = 0  # input records fed so far
        # The first applied event's time: the history's start, with input in timestamp order.
        self.first: int | None = None

    def feed(self, records: Iterable[Record]) -> None:
        """Apply `records` (one batch, in offset order per topic), then the due deadlines."""
        scratch, effects = self._scratch, Effects()
        for record in records:
            scratch.handle(record, self.clock, effects)
            self.records += 1
            if self.first is None:
                self.first = scratch.watermark
            if len(effects.changes) > 10_000:
                effects = Effects()  # nobody reads them: a rebuild publishes nothing
        now = scratch.watermark
        if now is not None:
            scratch.sweep(now, Effects())

    def history(self, truncated: bool) -> History:
        """The event times the records fed span; `truncated` when retention cut them."""
        return History(self.first, self._scratch.watermark, truncated)

    def current(self) -> dict[str, ContactState]:
        """Every contact's rebuilt state so far (deadlines fired up to the last record's)."""
        return self._scratch.states()

    def states(self, now: int) -> dict[str, ContactState]:
        """Every contact's rebuilt state, with its deadlines up to `now` fired."""
        self._scratch.sweep(now, Effects())
        return self._scratch.states()
