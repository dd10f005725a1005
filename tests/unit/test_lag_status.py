"""The lag status rules (after Burrow's evaluator) on sample windows, and the lag of a reading."""

from __future__ import annotations

import pytest

from stream.ops.lag import (
    EXIT_NO_OFFSETS,
    Reading,
    Report,
    Sample,
    Status,
    Windows,
    group_status,
    partition_status,
    sample,
    single_status,
    window_status,
)

S = 1000  # ms


Row = tuple[int | None, int, int | None]  # committed, end, second of the last commit seen


def window(*rows: Row) -> list[Sample]:
    """Samples one second apart, the first at 100 s; commit seconds count from there."""
    return [_row(i, *row) for i, row in enumerate(rows)]


def _row(i: int, committed: int | None, end: int, commit_s: int | None) -> Sample:
    at = 100 * S + i * S
    position = committed or 0
    commit_ms = None if commit_s is None else 100 * S + commit_s * S
    return Sample(at, committed, end, max(0, end - position), 0.0, commit_ms)


# Rows: (committed, end, second of the window the last commit was at, None for none seen).
WINDOWS: list[tuple[str, list[Row], Status]] = [
    ("caught up throughout", [(10, 10, 0), (12, 12, 1), (15, 15, 2)], "OK"),
    ("lag 0 once in the window", [(10, 10, 0), (10, 14, 0), (10, 20, 0)], "OK"),
    ("lag falling, commits moving", [(10, 30, 0), (20, 35, 1), (30, 38, 2)], "OK"),
    ("lag rising once, falling after", [(10, 30, 0), (12, 40, 1), (30, 41, 2)], "OK"),
    ("lag never fell, commits moving", [(10, 30, 0), (20, 40, 1), (25, 50, 2)], "WARN"),
    ("lag flat, commits moving", [(10, 30, 0), (20, 40, 1), (30, 50, 2)], "WARN"),
    ("frozen offset, still committed", [(10, 30, 0), (10, 31, 1), (10, 33, 2)], "STALL"),
    ("no commit since before the window", [(10, 30, -5), (10, 31, -5), (10, 33, -5)], "STOP"),
    ("no commit seen in the look-back", [(10, 30, None), (10, 31, None), (10, 33, None)], "STOP"),
    ("no commit for exactly the span: not yet", [(10, 30, 0), (10, 31, 0), (10, 33, 0)], "STALL"),
    ("no commit for longer than the span", [(10, 30, -1), (10, 31, -1), (10, 33, -1)], "STOP"),
    ("offset went backwards", [(30, 40, 0), (10, 41, 1), (12, 42, 2)], "REWIND"),
    ("rewind from caught up", [(40, 40, 0), (40, 40, 1), (10, 40, 2)], "REWIND"),
    ("rewind wins over stop", [(30, 40, -9), (10, 41, -9), (10, 42, -9)], "REWIND"),
    ("first commit in the window", [(None, 30, None), (5, 30, 1), (9, 31, 2)], "OK"),
]


@pytest.mark.parametrize(
    ("rows", "expected"), [(rows, want) for _, rows, want in WINDOWS], ids=[w[0] for w in WINDOWS]
)
def test_window_status(rows: list[Row], expected: Status) -> None:
    assert window_status(window(*rows)) == expected


@pytest.mark.parametrize(
    ("lag", "commit_age_s", "expected"),
    [
        (0, None, "OK"),  # nothing to consume: never STOP, committed or not
        (0, 600, "OK"),
        (5, 10, "OK"),
        (5, 300, "OK"),  # exactly --stop-after is not older than it
        (5, 301, "STOP"),
        (5, None, "STOP"),  # no commit within the look-back
    ],
)
def test_single_sample_status(lag: int, commit_age_s: int | None, expected: Status) -> None:
    at = 1_000 * S
    commit = None if commit_age_s is None else at - commit_age_s * S
    assert single_status(Sample(at, 10, 10 + lag, lag, 0.0, commit), 300 * S) == expected


def test_the_window_rules_apply_once_the_window_is_full() -> None:
    stalled = window((10, 30, 0), (10, 31, 1), (10, 33, 2))
    assert partition_status(stalled[:2], 3, 300 * S) == "OK"  # single-sample rule so far
    assert partition_status(stalled, 3, 300 * S) == "STALL"
    assert partition_status(stalled, 1, 300 * S) == "OK"  # a window of one is one sample


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], "OK"),
        (["OK", "OK"], "OK"),
        (["OK", "WARN"], "WARN"),
        (["WARN", "STALL"], "ERR"),
        (["OK", "STOP"], "ERR"),
        (["REWIND"], "ERR"),
    ],
)
def test_group_status_is_the_worst(statuses: list[Status], expected: str) -> None:
    assert group_status(statuses) == expected


def _reading(**fields: object) -> Reading:
    base: dict[str, object] = dict(
        topic="t", partition=0, committed=10, start=0, end=10, oldest_ms=None, commit_ms=None
    )
    base.update(fields)
    return Reading(**base)  # type: ignore[arg-type]


def test_lag_seconds_is_the_age_of_the_record_at_the_committed_offset() -> None:
    one = sample(_reading(committed=4, end=10, oldest_ms=90 * S), at_ms=100 * S)
    assert (one.lag, one.lag_seconds) == (6, 10.0)


def test_no_lag_is_zero_seconds_never_nan() -> None:
    assert sample(_reading(committed=10, end=10), at_ms=5).lag_seconds == 0.0


def test_without_a_commit_the_worker_starts_at_the_log_start() -> None:
    one = sample(_reading(committed=None, start=3, end=10, oldest_ms=1 * S), at_ms=2 * S)
    assert (one.lag, one.lag_seconds) == (7, 1.0)


def test_offsets_holding_only_transaction_markers_are_no_lag() -> None:
    one = sample(_reading(committed=9, end=10, markers_only=True), at_ms=5)
    assert (one.lag, one.lag_seconds) == (0, 0.0)


def test_an_unread_record_time_is_unknown_not_invented() -> None:
    assert sample(_reading(committed=4, end=10, oldest_ms=None), at_ms=5).lag_seconds is None


def test_windows_keep_the_last_samples_and_forget_partitions_not_kept() -> None:
    windows = Windows(size=2, stop_after_ms=300 * S)
    for row in window((10, 30, 0), (10, 31, 1), (10, 33, 2)):
        windows.add(("t", 0), row)
    windows.add(("t", 1), _row(0, 5, 5, 0))
    assert [(key, status) for key, _, status in windows.latest()] == [
        (("t", 0), "STALL"),
        (("t", 1), "OK"),
    ]
    windows.keep([("t", 1)])
    assert [key for key, _, _ in windows.latest()] == [("t", 1)]


def test_report_json_and_exit_codes() -> None:
    windows = Windows(size=1, stop_after_ms=300 * S)
    windows.add(("events", 0), Sample(100 * S, 4, 10, 6, 1.23456, 99 * S))
    windows.add(("events", 1), Sample(100 * S, None, 0, 0, 0.0, None))
    report = Report.of("g", 100 * S, windows)
    assert report.to_json() == {
        "group": "g",
        "status": "OK",
        "partitions": [
            {"topic": "events", "partition": 0, "committed": 4, "end": 10, "lag": 6,
             "lag_seconds": 1.235, "status": "OK"},
            {"topic": "events", "partition": 1, "committed": None, "end": 0, "lag": 0,
             "lag_seconds": 0.0, "status": "OK"},
        ],
        "at": "1970-01-01T00:01:40Z",
    }  # fmt: skip
    assert report.exit_code() == 0
    assert report.lines()[-1] == "group g: OK"
    uncommitted = Windows(size=1, stop_after_ms=300 * S)
    uncommitted.add(("events", 0), Sample(100 * S, None, 10, 10, 3.0, None))
    assert Report.of("g", 100 * S, uncommitted).exit_code() == EXIT_NO_OFFSETS
