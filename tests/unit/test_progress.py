"""The worker's progress lines: what they count between two lines, and when they appear."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from stream.app.ports import PartitionBatch
from stream.app.processor import DeadLetter, Effects, Record
from stream.app.progress import Progress
from stream.core.replay import Counts

TOPICS = ("events", "events-repartition")


@dataclass
class FakeSource:
    """What Faust would report, set by the test."""

    assigned: list[int] | None = None
    left: int | None = None
    highwaters: dict[tuple[str, int], int] = field(default_factory=dict)
    is_settled: bool = True

    def owned(self) -> list[int] | None:
        return self.assigned

    def recovery_left(self) -> int | None:
        return self.left

    def highwater(self, topic: str, partition: int) -> int | None:
        return self.highwaters.get((topic, partition))

    def settled(self) -> bool:
        return self.is_settled


def _partition(applied: int = 0, duplicate: int = 0, pending: int = 0, **offsets: int) -> Any:
    counts = Counts(applied=applied, duplicate=duplicate)
    return SimpleNamespace(counts=counts, pending_deadlines=pending, offsets=offsets)


def _letter(reason: str, offset: int) -> DeadLetter:
    return DeadLetter(Record("events", 0, offset, b"c", b"x"), reason, f"detail {offset}")


def _batch(*letters: DeadLetter) -> list[PartitionBatch]:
    return [(0, Effects(dead_letters=list(letters)), [])]


def _events(partition: int, timestamp: float) -> list[Any]:
    return [SimpleNamespace(message=SimpleNamespace(partition=partition, timestamp=timestamp))]


@pytest.fixture(autouse=True)
def progress_at_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="stream.app.progress")


def test_the_assignment_is_reported_once_and_again_when_it_changes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = FakeSource()
    progress = Progress(source, topics=TOPICS, every_s=10)
    progress.tick(0.0, 0.0, [], 0)  # no assignment known yet: nothing
    source.assigned = [0, 1, 2]
    progress.tick(0.5, 0.0, [], 0)
    progress.tick(1.0, 0.0, [], 0)
    source.assigned = [0, 1]
    progress.tick(1.5, 0.0, [], 0)
    assert caplog.messages == [
        "assigned partitions 0-2 of events",
        "assigned partitions 0-1 of events",
    ]


def test_a_dead_letter_reason_is_warned_about_the_first_time_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    progress = Progress(FakeSource(), topics=TOPICS, every_s=10)
    progress.took([], _batch(_letter("not_json", 1), _letter("not_json", 2)))
    progress.took([], _batch(_letter("too_large", 3), _letter("not_json", 4)))
    warnings = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert warnings == [
        (logging.WARNING, "first dead letter for not_json: events[0] offset 1: detail 1 "
         "(more are counted in the progress lines)"),
        (logging.WARNING, "first dead letter for too_large: events[0] offset 3: detail 3 "
         "(more are counted in the progress lines)"),
    ]  # fmt: skip


def test_a_progress_line_counts_what_happened_since_the_last_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = FakeSource(assigned=[0, 1])
    progress = Progress(source, topics=TOPICS, every_s=10)
    # Counters loaded from the store (earlier runs) are not counted as new work.
    p0, p1 = _partition(applied=500, events=500), _partition(applied=70, events=70)
    progress.tick(0.0, 1000.0, [(0, p0), (1, p1)], changes_out=0)
    p0.counts.applied, p0.counts.duplicate, p0.offsets = 900, 3, {"events": 903}
    p1.counts.applied, p1.pending_deadlines = 170, 7
    p1.offsets = {"events": 170, "events-repartition": 4}
    progress.took(_events(0, 990.0) + _events(1, 995.5), _batch(_letter("not_json", 10)))
    source.highwaters = {("events", 0): 903, ("events", 1): 200, ("events-repartition", 1): 9}
    progress.tick(5.0, 1000.0, [(0, p0), (1, p1)], changes_out=40)  # not due yet
    progress.tick(10.0, 1000.0, [(0, p0), (1, p1)], changes_out=60)
    assert caplog.messages[2:] == [  # after the assignment and the warning
        "last 10 s: 50 events/s applied (500), 3 duplicates, 1 dead letter (not_json 1), "
        "60 changes out; 7 deadlines pending; lag 35 messages, 4.5 s behind"
    ]
    progress.tick(20.0, 1010.0, [(0, p0), (1, p1)], changes_out=60)
    assert caplog.messages[3] == (
        "last 10 s: 0 events/s applied (0), 0 duplicates, 0 dead letters, 0 changes out; "
        "7 deadlines pending; lag 35 messages, 14 s behind"
    )


def test_recovery_is_reported_with_its_progress_then_its_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = FakeSource(assigned=[0], left=1000, is_settled=False)
    progress = Progress(source, topics=TOPICS, every_s=2)
    progress.tick(0.0, 0.0, [], 0)
    source.left = 600
    progress.tick(2.0, 0.0, [], 0)
    source.left = None
    progress.tick(3.0, 0.0, [], 0)  # reported at once
    source.is_settled = True
    progress.tick(4.0, 0.0, [(0, _partition())], 0)
    assert caplog.messages == [
        "assigned partitions 0 of events",
        "recovering the table: 400 of 1,000 changelog records (200/s), about 3.0 s left",
        "table recovered: 1,000 changelog records in 3.0 s",
        "last 2.0 s: 0 events/s applied (0), 0 duplicates, 0 dead letters, 0 changes out; "
        "0 deadlines pending; lag 0 messages",
    ]


def test_no_progress_line_during_a_rebalance_or_with_an_interval_of_zero(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = FakeSource(assigned=[0], is_settled=False)
    progress = Progress(source, topics=TOPICS, every_s=1)
    progress.tick(0.0, 0.0, [], 0)
    progress.tick(5.0, 0.0, [], 0)
    off = Progress(FakeSource(assigned=[1]), topics=TOPICS, every_s=0)
    off.tick(0.0, 0.0, [], 0)
    off.tick(100.0, 0.0, [], 0)
    assert caplog.messages == ["assigned partitions 0 of events", "assigned partitions 1 of events"]
