"""What the worker's lines for an operator report, gathered from the runtime and from Faust.

`Progress` is fed by the runtime (every batch it applies, `took`) and by `Heartbeat` (`tick`,
twice a second); it asks Faust (`Source`) only for the assignment, the table recovery and the
input highwaters. The lines themselves are `stream.ops.report`'s.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka.structs import TopicPartition
from mode import Service

from stream.app.assignment import Assignment
from stream.app.ports import PartitionBatch
from stream.app.processor import Partition
from stream.ops.report import (
    assigned_line,
    first_dead_letter_line,
    progress_line,
    recovered_line,
    recovery_line,
)

log = logging.getLogger(__name__)

HEARTBEAT_S = 0.5


class Source(Protocol):
    """What Faust knows that the lines report."""

    def owned(self) -> list[int] | None:
        """The input partitions assigned to this worker, in order; None while the first
        assignment is not known yet."""
        ...

    def recovery_left(self) -> int | None:
        """Changelog records left to restore, or None when the table is not recovering."""
        ...

    def highwater(self, topic: str, partition: int) -> int | None:
        """The offset the next record of `topic[partition]` will get, if known yet."""
        ...

    def settled(self) -> bool:
        """Whether the partitions are loaded and no rebalance or recovery is under way."""
        ...


class FaustSource:
    """`Source` on a running Faust app, through its public API only."""

    def __init__(self, app: Any, assignment: Assignment) -> None:
        self.app = app  # faust.App
        self.assignment = assignment

    def owned(self) -> list[int] | None:
        owned = self.assignment.owned()
        if not owned and not self.assignment.settled():
            return None  # before the group's first assignment, or between two
        return owned

    def recovery_left(self) -> int | None:
        recovery = self.app.tables.recovery
        return int(recovery.active_remaining_total()) if recovery.in_recovery else None

    def settled(self) -> bool:
        return self.assignment.settled()

    def highwater(self, topic: str, partition: int) -> int | None:
        try:
            found = self.app.consumer.highwater(TopicPartition(topic, partition))
        except AssertionError:  # aiokafka asserts the partition is assigned: a rebalance
            return None
        return None if found is None else int(found)


class Heartbeat(Service):
    """Calls `beat` every `HEARTBEAT_S` from the worker's start, as a service of Faust's worker.

    Not an app timer: Faust starts those only once the first table recovery is complete, and
    that recovery's progress is what an operator waits for.
    """

    # mode names a service's logger after its module unless the class names one; its start
    # and stop lines are mode's chatter, shown at debug like the rest.
    logger = logging.getLogger("mode.heartbeat")

    def __init__(self, beat: Callable[[], None], **kwargs: Any) -> None:
        self.beat = beat
        super().__init__(**kwargs)

    @Service.task
    async def _beating(self) -> None:
        while not self.should_stop:
            await self.sleep(HEARTBEAT_S)
            try:
                self.beat()
            except Exception:
                # The lines are for people; a bug in them must not stop the processing.
                log.exception("progress lines failed; the worker goes on without them")
                return


@dataclass(slots=True)
class _Recovery:
    started_at: float  # time.monotonic()
    total: int  # changelog records to restore, as far as seen


class Progress:
    """Counts since the last line, and the lines: the assignment whenever it changes, the
    first dead letter of each reason, and every `every_s` seconds the recovery or progress."""

    def __init__(self, source: Source, *, topics: Sequence[str], every_s: float) -> None:
        self.source = source
        self.topics = tuple(topics)  # the input topics, whose highwaters give the lag
        self.every_s = every_s  # 0: no recovery or progress lines
        self._owned: list[int] | None = None
        self._warned: set[str] = set()
        self._reasons: Counter[str] = Counter()  # dead letters since the last line
        self._stamps: dict[int, float] = {}  # per partition: Kafka timestamp of its last record
        self._seen: dict[int, tuple[int, int]] = {}  # per partition: (applied, duplicate)
        self._applied = 0
        self._duplicates = 0
        self._changes_seen: int | None = None
        self._line_at: float | None = None
        self._recovery: _Recovery | None = None

    def took(self, events: Iterable[Any], batches: Sequence[PartitionBatch]) -> None:
        """A batch of Faust events was applied, with these effects."""
        stamps = self._stamps
        for event in events:
            message = event.message
            stamps[message.partition] = message.timestamp
        for _, effects, _ in batches:
            for letter in effects.dead_letters:
                self._reasons[letter.reason] += 1
                if letter.reason not in self._warned:
                    self._warned.add(letter.reason)
                    record = letter.record
                    log.warning(
                        first_dead_letter_line(
                            letter.reason,
                            letter.detail,
                            record.topic,
                            record.partition,
                            record.offset,
                        )
                    )

    def tick(
        self, now: float, wall_s: float, loaded: Sequence[tuple[int, Partition]], changes_out: int
    ) -> None:
        """Report a new assignment and the end of a recovery at once, and the recovery or the
        progress every `every_s` seconds."""
        owned = self.source.owned()
        if owned is not None and owned != self._owned:
            self._owned = owned
            log.info(assigned_line(self.topics[0], owned))
        self._count(loaded)
        if self._changes_seen is None:
            self._changes_seen = changes_out
        left = self.source.recovery_left()
        recovery = self._recovery
        if left:
            # More left than at the start: a rebalance started the recovery over.
            if recovery is None or left > recovery.total:
                recovery = self._recovery = _Recovery(now, left)
        elif recovery is not None:
            log.info(recovered_line(recovery.total, now - recovery.started_at))
            recovery = self._recovery = None
        if self._line_at is None:
            self._line_at = now
        elapsed = now - self._line_at
        if not self.every_s or elapsed < self.every_s:
            return
        if recovery is not None and left:
            self._line_at = now
            log.info(recovery_line(recovery.total - left, left, now - recovery.started_at))
        elif self.source.settled():
            self._line_at = now
            log.info(self._progress_line(elapsed, loaded, wall_s, changes_out))

    def _progress_line(
        self,
        elapsed_s: float,
        loaded: Sequence[tuple[int, Partition]],
        wall_s: float,
        changes_out: int,
    ) -> str:
        """The progress line, counted since the last one; starts counting afresh."""
        lag, behind_s = self._lag(loaded, wall_s)
        line = progress_line(
            elapsed_s=elapsed_s,
            applied=self._applied,
            duplicates=self._duplicates,
            dead_letters=self._reasons,
            changes=changes_out - (self._changes_seen or 0),
            pending=sum(p.pending_deadlines for _, p in loaded),
            lag=lag,
            behind_s=behind_s,
        )
        self._applied = self._duplicates = 0
        self._reasons = Counter()
        self._changes_seen = changes_out
        return line

    def _count(self, loaded: Sequence[tuple[int, Partition]]) -> None:
        """Add what each loaded partition applied since it was last seen; a partition seen
        for the first time counts from now (its counters include earlier runs)."""
        for number, part in loaded:
            now = (part.counts.applied, part.counts.duplicate)
            before = self._seen.get(number, now)
            self._applied += max(0, now[0] - before[0])
            self._duplicates += max(0, now[1] - before[1])
            self._seen[number] = now

    def _lag(self, loaded: Sequence[tuple[int, Partition]], wall_s: float) -> tuple[int, float]:
        """Records not yet applied, and how old the last applied record of the partitions that
        lag is (at least how long the oldest one not applied has waited; 0 without lag)."""
        total, behind_s = 0, 0.0
        for number, part in loaded:
            lag = 0
            for topic in self.topics:
                high = self.source.highwater(topic, number)
                if high is not None:
                    lag += max(0, high - part.offsets.get(topic, 0))
            stamp = self._stamps.get(number)
            if lag and stamp is not None:
                behind_s = max(behind_s, wall_s - stamp)
            total += lag
        return total, behind_s
