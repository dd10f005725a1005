"""`segstream generate`: a history up to now by default, the same stream for a given start."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from stream.cli.main import main
from stream.core.timefmt import format_ts, parse_ts
from stream.testing.generate import FIXED_START_US, generate, start_for_end

DAY = 86_400_000_000


@pytest.mark.parametrize("end", ["2026-11-20T10:00:00.123456Z", "2031-02-03T00:00:00Z"])
@pytest.mark.parametrize(
    ("contacts", "events", "seed", "days"), [(30, 1, 1, 60.0), (300, 5000, 4, 7.5)]
)
def test_start_for_end_puts_the_last_event_at_the_end(
    end: str, contacts: int, events: int, seed: int, days: float
) -> None:
    end_us = parse_ts(end)
    start = start_for_end(end_us, contacts, events, seed=seed, days=days)
    stream = list(generate(contacts, events, seed=seed, start_us=start, days=days))
    times = [parse_ts(e["timestamp"]) for e in stream]
    assert len(stream) == events
    assert times[-1] == end_us // 1000 * 1000 == max(times)
    assert times[0] >= start


def _run(tmp_path: Path, *args: str) -> tuple[list[dict[str, object]], str]:
    out = tmp_path / "events.jsonl"
    result = CliRunner().invoke(main, ["generate", *args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    return [orjson.loads(line) for line in out.read_bytes().splitlines()], result.stderr


def test_by_default_the_history_ends_now(tmp_path: Path) -> None:
    before = time.time_ns() // 1000 // 1000 * 1000
    events, report = _run(tmp_path, "--contacts", "50", "--events", "2000", "--days", "30")
    after = time.time_ns() // 1000
    times = [parse_ts(str(e["timestamp"])) for e in events]
    assert before <= times[-1] <= after
    assert times == sorted(times)
    assert after - 31 * DAY < times[0]
    contacts = len({e["contact_id"] for e in events})
    first, last = events[0]["timestamp"], events[-1]["timestamp"]
    where = tmp_path / "events.jsonl"
    assert (
        report == f"generate: 2,000 events of {contacts} contacts, {first} to {last}, to {where}\n"
    )


def test_a_start_gives_the_same_stream_as_the_generator(tmp_path: Path) -> None:
    args = ("--contacts", "40", "--events", "500", "--seed", "3", "--days", "10")
    events, report = _run(tmp_path, *args, "--start", format_ts(FIXED_START_US))
    assert events == list(generate(40, 500, seed=3, start_us=FIXED_START_US, days=10))
    assert _run(tmp_path, *args, "--start", format_ts(FIXED_START_US)) == (events, report)


def test_a_bad_start_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["generate", "--start", "yesterday"])
    assert result.exit_code == 2
    assert "--start" in result.stderr
