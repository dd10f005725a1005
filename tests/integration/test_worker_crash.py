"""kill -9 during a stream loses nothing: after restarts, changes equal replay's, seq has no gap.

Both runs stream 100k events (SEGSTREAM_CRASH_EVENTS overrides it). Every exactly-once
restart first restores the whole table from the changelog, so that run allows longer
without progress.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import orjson
from aiokafka.structs import ConsumerRecord

from stream.core.changes import Change
from stream.core.language.loader import load_file
from stream.core.replay import replay_lines
from stream.core.timefmt import parse_ts
from stream.ops.status import handled_in
from stream.testing.generate import generate
from stream.testing.waiting import wait_for, wait_for_progress
from tests.e2e.harness import (
    Names,
    WorkerProcess,
    changes_of,
    closing_events,
    produce,
    read_topic,
)
from tests.support import EXAMPLE_RULES
from tests.support.changes import by_contact, drop_repeats

EVENTS = int(os.environ.get("SEGSTREAM_CRASH_EVENTS", "100000"))
PARTITIONS = 4
KILLS = 3


def _stream(total: int) -> list[bytes]:
    events = [orjson.dumps(e) for e in generate(total // 10, total, seed=3, days=60.0)]
    last = max(parse_ts(orjson.loads(line)["timestamp"]) for line in events)
    return events + closing_events(PARTITIONS, last)


def _check_repeats_are_identical(changes: list[Change]) -> int:
    """A redelivered change is the same message as the first one with its seq."""
    first: dict[tuple[str, int], Change] = {}
    repeats = 0
    for change in changes:
        key = (change.contact_id, change.seq)
        if key in first:
            assert change == first[key]
            repeats += 1
        else:
            first[key] = change
    return repeats


def _crash_run(
    kafka_bootstrap: str, names: Names, tmp_path: Path, extra: list[str], total: int
) -> tuple[list[ConsumerRecord[bytes, bytes]], list[Change], int]:
    lines = _stream(total)
    expected = list(replay_lines(load_file(EXAMPLE_RULES), lines))
    produce(kafka_bootstrap, names.events, lines, PARTITIONS)
    worker = WorkerProcess(
        kafka_bootstrap,
        EXAMPLE_RULES,
        names,
        tmp_path,
        partitions=PARTITIONS,
        clock="event",
        extra=["--batch-size", "500", *extra],
    )
    rng = random.Random(7)
    worker.start()
    for kill in range(KILLS):
        # Somewhere in the next stretch of the stream, at a moment the status does not show.
        target = len(lines) * (kill + rng.uniform(0.3, 0.9)) / (KILLS + 1)
        wait_for(
            lambda target=target: handled_in(worker.status()) >= target,
            timeout=120,
            interval=0.01,
            what=f"{target:.0f} events handled",
        )
        worker.kill()
        worker.start()
    try:
        # An exactly-once restart first restores the whole table from the changelog.
        wait_for_progress(
            lambda: handled_in(worker.status()),
            len(lines),
            stall=180.0 if "--exactly-once" in extra else 30.0,
            what="events handled",
        )
        assert worker.starts == KILLS + 1
        records = read_topic(
            kafka_bootstrap,
            names.changes,
            lambda rs: sum(map(len, drop_repeats(changes_of(rs)).values())) >= len(expected),
            timeout=120,
            settle=1.0,
            committed_only="--exactly-once" in extra,
        )
    finally:
        worker.stop()
    worker.assert_healthy()
    return records, expected, len(lines)


def test_kill_9_loses_nothing(kafka_bootstrap: str, unique_name: str, tmp_path: Path) -> None:
    records, expected, _ = _crash_run(kafka_bootstrap, Names(unique_name), tmp_path, [], EVENTS)
    changes = changes_of(records)
    repeats = _check_repeats_are_identical(changes)
    print(f"{len(changes)} change messages, {repeats} redelivered after kills")
    kept = drop_repeats(changes)
    for contact, mine in kept.items():
        assert [c.seq for c in mine] == list(range(1, len(mine) + 1)), contact
    assert kept == by_contact(expected)


def test_kill_9_exactly_once_read_committed_sees_each_change_once(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    records, expected, _ = _crash_run(
        kafka_bootstrap, Names(unique_name), tmp_path, ["--exactly-once"], EVENTS
    )
    changes = changes_of(records)
    assert _check_repeats_are_identical(changes) == 0  # not even identical redeliveries
    assert by_contact(changes) == by_contact(expected)
