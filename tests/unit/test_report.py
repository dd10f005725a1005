"""The worker's lines for an operator read as a person would write them."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from stream.core.language.loader import load_file
from stream.ops.report import (
    DETAIL_CHARS,
    assigned_line,
    duration,
    first_dead_letter_line,
    progress_line,
    ranges,
    recovered_line,
    recovery_line,
    start_line,
)
from stream.settings import Settings

EXAMPLE_RULES = Path(__file__).resolve().parents[2] / "stream" / "examples" / "segments.yaml"


@pytest.mark.parametrize(
    ("numbers", "text"),
    [([], ""), ([3], "3"), ([0, 1, 2, 3], "0-3"), ([5, 0, 2, 1, 7, 8], "0-2, 5, 7-8")],
)
def test_ranges(numbers: list[int], text: str) -> None:
    assert ranges(numbers) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.04, "0.0 s"),
        (2.04, "2.0 s"),
        (9.96, "10.0 s"),
        (10.2, "10 s"),
        (59.4, "59 s"),
        (60, "1 min"),
        (200, "3 min 20 s"),
        (3600, "1 h"),
        (7500, "2 h 5 min"),
    ],
)
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_start_line_names_the_rules_their_version_and_the_topics() -> None:
    rules = load_file(EXAMPLE_RULES)
    settings = Settings(rules_file=EXAMPLE_RULES, broker="kafka://k1:9092;k2:9092")
    line = start_line(settings, rules)
    assert line.startswith(f"worker segstream starting: rules {EXAMPLE_RULES}: 17 segments, ")
    assert f"(version {rules.version_hash})" in line
    assert "broker k1:9092,k2:9092, events contact-events (8 partitions)" in line
    assert line.endswith("clock wall, at-least-once")


def test_assigned_line() -> None:
    assert assigned_line("ev", [0, 1, 3]) == "assigned partitions 0-1, 3 of ev"
    assert assigned_line("ev", []) == "no partition of ev assigned to this worker"


def test_progress_line_with_everything() -> None:
    line = progress_line(
        elapsed_s=10.0,
        applied=12_345,
        duplicates=1,
        dead_letters=Counter({"too_far_in_future": 2_397, "not_json": 1}),
        changes=456,
        pending=78_900,
        lag=1_000,
        behind_s=2.34,
    )
    assert line == (
        "last 10 s: 1,234 events/s applied (12,345), 1 duplicate, "
        "2,398 dead letters (not_json 1, too_far_in_future 2,397), 456 changes out; "
        "78,900 deadlines pending; lag 1,000 messages, 2.3 s behind"
    )


def test_an_idle_progress_line_has_no_breakdown_and_no_age() -> None:
    line = progress_line(
        elapsed_s=10.0, applied=0, duplicates=0, dead_letters=Counter(), changes=1, pending=1,
        lag=0, behind_s=5.0,
    )  # fmt: skip
    assert line == (
        "last 10 s: 0 events/s applied (0), 0 duplicates, 0 dead letters, 1 change out; "
        "1 deadline pending; lag 0 messages"
    )


def test_recovery_line_estimates_the_time_left_at_the_rate_so_far() -> None:
    assert recovery_line(20_000, 130_000, 2.0) == (
        "recovering the table: 20,000 of 150,000 changelog records (10,000/s), about 13 s left"
    )
    assert recovery_line(0, 5, 0.5).endswith("(0/s), time left not known yet")
    assert recovered_line(146_417, 16.2) == "table recovered: 146,417 changelog records in 16 s"


def test_first_dead_letter_line_is_one_short_line() -> None:
    detail = "line one\nline two " + "x" * 500
    line = first_dead_letter_line("not_json", detail, "events", 3, 120)
    assert "\n" not in line
    assert line.startswith("first dead letter for not_json: events[3] offset 120: line one line")
    assert line.endswith("... (more are counted in the progress lines)")
    assert len(line) < DETAIL_CHARS + 100
