"""Time passing with no new event: window expiry and inactivity entry fire on their own."""

from __future__ import annotations

import time
from pathlib import Path

import orjson

from stream.core.changes import Change, SegmentChange
from stream.core.language.loader import load_file
from stream.core.replay import replay_lines
from stream.core.timefmt import SECOND, format_ts
from tests.e2e.harness import (
    Names,
    WorkerProcess,
    changes_of,
    partition_of,
    produce,
    read_topic,
)

RULES = Path(__file__).resolve().parents[1] / "e2e" / "rules"
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
T0 = 1_795_000_000 * SECOND


def _line(eid: str, contact: str, kind: str, ts: int, **extra: object) -> bytes:
    body = {"event_id": eid, "contact_id": contact, "type": kind, "timestamp": format_ts(ts)}
    return orjson.dumps({**body, **extra})


def _brief(changes: list[Change]) -> list[tuple[object, ...]]:
    segments = [c for c in changes if isinstance(c, SegmentChange)]
    assert len(segments) == len(changes)
    return [(c.contact_id, c.segment, c.change, c.at, c.reason) for c in segments]


def _contacts(t0: int) -> list[bytes]:
    return [
        _line("i1", "c1", "identify", t0, traits={"email": "c1@example.com"}),
        _line("v1", "c1", "page_view", t0 + 1 * SECOND),
        _line("v2", "c1", "page_view", t0 + 2 * SECOND),
        _line("l1", "c1", "login", t0 + 3 * SECOND),
    ]


def test_event_clock_fires_deadlines_when_the_partition_clock_passes_them(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    rules = RULES / "timers.yaml"
    names = Names(unique_name)
    first = [
        _line("i1", "c1", "identify", T0, traits={"email": "c1@example.com"}),
        _line("v1", "c1", "page_view", T0 + MINUTE),
        _line("v2", "c1", "page_view", T0 + 2 * MINUTE),
        _line("l1", "c1", "login", T0 + 3 * MINUTE),
    ]
    # A later event of another contact on the same partition moves the clock 5 hours on.
    other = next(f"o{n}" for n in range(100) if partition_of(f"o{n}", 2) == partition_of("c1", 2))
    later = [_line("x1", other, "page_view", T0 + 5 * HOUR)]
    worker = WorkerProcess(kafka_bootstrap, rules, names, tmp_path, partitions=2, clock="event")
    produce(kafka_bootstrap, names.events, first, 2)
    worker.start()
    try:
        worker.wait_ready()
        before = read_topic(kafka_bootstrap, names.changes, lambda rs: len(rs) >= 3,
                            timeout=60, settle=1.5)  # fmt: skip
        assert _brief(changes_of(before)) == [
            ("c1", "quiet", "entered", format_ts(T0), "profile"),
            ("c1", "hot", "entered", format_ts(T0 + 2 * MINUTE), "event"),
            ("c1", "quiet", "exited", format_ts(T0 + 3 * MINUTE), "event"),
        ]
        produce(kafka_bootstrap, names.events, later, 2)
        after = read_topic(kafka_bootstrap, names.changes, lambda rs: len(rs) >= 5,
                           timeout=60, settle=1.0)  # fmt: skip
    finally:
        worker.stop()
    worker.assert_healthy()
    timed = [c for c in changes_of(after) if c.reason == "time"]
    assert _brief(timed) == [
        ("c1", "hot", "exited", format_ts(T0 + MINUTE + HOUR), "time"),
        ("c1", "quiet", "entered", format_ts(T0 + 3 * MINUTE + 2 * HOUR), "time"),
    ]
    assert changes_of(after) == list(replay_lines(load_file(rules), first + later))


def test_wall_clock_fires_deadlines_within_a_second(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    names = Names(unique_name)
    worker = WorkerProcess(
        kafka_bootstrap, RULES / "fast.yaml", names, tmp_path, partitions=2, clock="wall"
    )
    worker.start()
    try:
        worker.wait_ready()
        t0 = (time.time_ns() // 1000 // SECOND + 1) * SECOND  # whole seconds: exact `at`
        produce(kafka_bootstrap, names.events, _contacts(t0), 2)
        records = read_topic(kafka_bootstrap, names.changes, lambda rs: len(rs) >= 5,
                             timeout=30, settle=1.0)  # fmt: skip
    finally:
        worker.stop()
    worker.assert_healthy()
    changes = changes_of(records)
    due = {
        ("hot", "exited"): t0 + 1 * SECOND + 4 * SECOND,
        ("quiet", "entered"): t0 + 3 * SECOND + 6 * SECOND,
    }
    timed = [
        (c, r)
        for c, r in zip(changes, records, strict=True)
        if isinstance(c, SegmentChange) and c.reason == "time"
    ]
    assert len(timed) == sum(c.reason == "time" for c in changes)
    assert [(c.segment, c.change) for c, _ in timed] == list(due)
    for change, record in timed:
        deadline = due[(change.segment, change.change)]
        assert change.at == format_ts(deadline)
        published_us = record.timestamp * 1000
        assert deadline <= published_us + 1000 and published_us - deadline < 1 * SECOND
