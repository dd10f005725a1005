"""The worker's lines for an operator: what it runs, its partitions, its recovery and progress.

`Progress` is fed by the runtime (every batch it applies, `took`) and by the status heartbeat
(`tick`, twice a second and after every batch); it asks Faust (`Source`) only for the
assignment, the table recovery and the input highwaters. Every line is formatted here.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka.structs import TopicPartition

from stream.app.assignment import Assignment
from stream.app.ports import PartitionBatch
from stream.app.processor import DeadLetter, Partition
from stream.core.language.ast import RuleSet
from stream.core.language.loader import summary
from stream.settings import Settings

log = logging.getLogger(__name__)

DETAIL_CHARS = 200  # of a dead letter's detail in its warning; the full text is in the DLQ


class Source(Protocol):
    """What Faust knows that the lines report."""

    def owned(self) -> list[int]:
        """The input partitions assigned to this worker, in order."""
        ...

    def recovery_left(self) -> int | None:
        """Changelog records left to restore, or None when the table is not recovering."""
        ...

    def highwater(self, topic: str, partition: int) -> int | None:
        """The offset the next record of `topic[partition]` will get, if known yet."""
        ...


class FaustSource:
    """`Source` on a running Faust app, through its public API only."""

    def __init__(self, app: Any, assignment: Assignment) -> None:
        self.app = app  # faust.App
        self.assignment = assignment

    def owned(self) -> list[int]:
        return self.assignment.owned()

    def recovery_left(self) -> int | None:
        recovery = self.app.tables.recovery
        return int(recovery.active_remaining_total()) if recovery.in_recovery else None

    def highwater(self, topic: str, partition: int) -> int | None:
        try:
            found = self.app.consumer.highwater(TopicPartition(topic, partition))
        except AssertionError:  # aiokafka asserts the partition is assigned: a rebalance
            return None
        return None if found is None else int(found)


@dataclass(slots=True)
class _Recovery:
    started_at: float  # loop time
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
                    log.warning(first_dead_letter_line(letter))

    def tick(
        self, now: float, wall_s: float, loaded: Sequence[tuple[int, Partition]], changes_out: int
    ) -> None:
        """Report a new assignment at once, and the recovery or progress when they are due."""
        owned = self.source.owned()
        if owned != self._owned:
            self._owned = owned
            log.info(assigned_line(self.topics[0], owned))
        self._count(loaded)
        if self._changes_seen is None:
            self._changes_seen = changes_out
        left = self.source.recovery_left()
        if left:
            if self._recovery is None:
                self._recovery = _Recovery(now, left)
            self._recovery.total = max(self._recovery.total, left)
        if self._line_at is None:
            self._line_at = now
        elapsed = now - self._line_at
        if not self.every_s or elapsed < self.every_s:
            return
        self._line_at = now
        recovery = self._recovery
        if recovery is not None:
            if left:
                log.info(recovery_line(recovery.total - left, left, now - recovery.started_at))
                return
            log.info(recovered_line(recovery.total, now - recovery.started_at))
            self._recovery = None
        lag, behind_s = self._lag(loaded, wall_s)
        line = progress_line(
            elapsed_s=elapsed,
            applied=self._applied,
            duplicates=self._duplicates,
            dead_letters=self._reasons,
            changes=changes_out - self._changes_seen,
            pending=sum(p.pending_deadlines for _, p in loaded),
            lag=lag,
            behind_s=behind_s,
        )
        log.info(line)
        self._applied = self._duplicates = 0
        self._reasons = Counter()
        self._changes_seen = changes_out

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


# --- the lines ------------------------------------------------------------------------------


def start_line(settings: Settings, rules: RuleSet) -> str:
    """What the worker runs: its rules, broker, topics and how it treats time."""
    guarantee = "exactly-once" if settings.exactly_once else "at-least-once"
    return (
        f"worker {settings.app_id} starting: rules {settings.rules_file}: {summary(rules)}; "
        f"broker {settings.bootstrap_servers()}, events {settings.events_topic} "
        f"({settings.partitions} partitions), clock {settings.clock}, {guarantee}"
    )


def assigned_line(topic: str, owned: Sequence[int]) -> str:
    if not owned:
        return f"no partition of {topic} assigned to this worker"
    return f"assigned partitions {ranges(owned)} of {topic}"


def recovery_line(restored: int, left: int, elapsed_s: float) -> str:
    """Progress of the table's restore from its changelog, with the time left at this rate."""
    rate = restored / elapsed_s if elapsed_s > 0 else 0.0
    eta = f"about {duration(left / rate)} left" if rate > 0 else "time left not known yet"
    total = restored + left
    return (
        f"recovering the table: {restored:,} of {total:,} changelog records ({rate:,.0f}/s), {eta}"
    )


def recovered_line(total: int, elapsed_s: float) -> str:
    return f"table recovered: {total:,} changelog records in {duration(elapsed_s)}"


def progress_line(
    *,
    elapsed_s: float,
    applied: int,
    duplicates: int,
    dead_letters: Counter[str],
    changes: int,
    pending: int,
    lag: int,
    behind_s: float,
) -> str:
    """One line on the last `elapsed_s` seconds, the deadlines pending and the lag now."""
    rate = applied / elapsed_s if elapsed_s > 0 else 0.0
    letters = sum(dead_letters.values())
    reasons = ", ".join(f"{reason} {n:,}" for reason, n in sorted(dead_letters.items()))
    behind = f", {duration(behind_s)} behind" if lag and behind_s > 0 else ""
    return (
        f"last {duration(elapsed_s)}: {rate:,.0f} events/s applied ({applied:,}), "
        f"{duplicates:,} {_plural(duplicates, 'duplicate')}, "
        f"{letters:,} {_plural(letters, 'dead letter')}{f' ({reasons})' if reasons else ''}, "
        f"{changes:,} {_plural(changes, 'change')} out; "
        f"{pending:,} {_plural(pending, 'deadline')} pending; "
        f"lag {lag:,} {_plural(lag, 'message')}{behind}"
    )


def first_dead_letter_line(letter: DeadLetter) -> str:
    """The warning the first time a reason appears: where, and what was wrong."""
    record = letter.record
    detail = " ".join(letter.detail.split())
    if len(detail) > DETAIL_CHARS:
        detail = detail[: DETAIL_CHARS - 3] + "..."
    return (
        f"first dead letter for {letter.reason}: {record.topic}[{record.partition}] "
        f"offset {record.offset}: {detail} (more are counted in the progress lines)"
    )


def ranges(numbers: Iterable[int]) -> str:
    """``0-3, 5, 7-8`` for 0, 1, 2, 3, 5, 7, 8."""
    spans: list[list[int]] = []
    for n in sorted(numbers):
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def duration(seconds: float) -> str:
    """``0.4 s``, ``12 s``, ``3 min 20 s``, ``2 h 5 min``: as precise as a person reads."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _plural(n: int, noun: str) -> str:
    return noun if n == 1 else noun + "s"
