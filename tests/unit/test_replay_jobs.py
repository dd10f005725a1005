"""Replay over N jobs equals one job: per contact, in total, skipped lines and counts alike."""

from __future__ import annotations

import random
import subprocess
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import astuple
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from stream.cli.replay_jobs import Checks, replayed
from stream.core import changes
from stream.core.language.ast import RuleSet
from stream.core.language.loader import load_file
from stream.core.replay import replay_lines
from stream.core.shards import shard_of
from stream.core.timefmt import format_ts
from stream.testing.generate import generate
from tests.support import DAY, EXAMPLE_RULES, ROOT, behaviour, ruleset, trait, us

T0 = us("2026-11-20T10:00:00Z")
CHECKS = Checks(horizon_us=DAY)


def _line(event_id: str, contact: str, ts: int, **fields: Any) -> bytes:
    body = {"event_id": event_id, "contact_id": contact, "timestamp": format_ts(ts), **fields}
    body.setdefault("type", "page_view")
    return orjson.dumps(body)


def _contacts_in(jobs: int) -> tuple[str, str]:
    """Two contact ids owned by different jobs."""
    first = "c-0"
    owner = shard_of(first, jobs)
    return first, next(f"c-{i}" for i in range(1, 100) if shard_of(f"c-{i}", jobs) != owner)


def _one_job(rules: RuleSet, lines: Sequence[bytes], until: int | None) -> list[bytes]:
    return [changes.encode(c) for c in replay_lines(rules, lines, until, horizon_us=DAY)]


def _by_contact(encoded: Sequence[bytes]) -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = defaultdict(list)
    for line in encoded:
        out[orjson.loads(line)["contact_id"]].append(line)
    return dict(out)


def _jobs(rules: RuleSet, path: Path, jobs: int, until: int | None) -> tuple[list[bytes], Any]:
    with replayed(rules, str(path), jobs, CHECKS, until) as outcome:
        written = b"".join(Path(p).read_bytes() for p in outcome.outputs).splitlines()
        return written, outcome


def _generated() -> list[bytes]:
    return [orjson.dumps(e) for e in generate(60, 900, seed=7)]


def _shuffled() -> list[bytes]:
    """Out of order: a late event counts against a clock the other contacts moved."""
    lines = _generated()
    random.Random(3).shuffle(lines)
    return lines


def _utc(ts: int, digits: int, zone: str = "Z") -> str:
    seconds, micros = divmod(ts, 1_000_000)
    base = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return base + (f".{micros:06d}"[: digits + 1] if digits else "") + zone


def _plus_one_hour(ts: int) -> str:
    return _utc(ts + 3_600_000_000, 6, "+01:00")


# The same instant written in the forms RFC 3339 allows. Some are as long as others but do
# not compare as text (an offset, a lower-case `t` or `z`): the jobs must compare instants.
STAMP_FORMS = [
    format_ts,
    lambda ts: _utc(ts, 6),
    lambda ts: _utc(ts - ts % 100, 4),  # as long as the next, with a fraction
    lambda ts: _utc(ts - ts % 1_000_000, 0, "+00:00"),
    lambda ts: format_ts(ts).lower(),
    _plus_one_hour,
]


def _restamped() -> list[bytes]:
    """Generated events with their timestamps in mixed forms, neighbours now and then swapped."""
    rng = random.Random(11)
    lines = []
    for event in generate(60, 900, seed=7):
        event["timestamp"] = rng.choice(STAMP_FORMS)(us(event["timestamp"]))
        lines.append(orjson.dumps(event))
    for i in range(0, len(lines) - 1, 5):
        lines[i], lines[i + 1] = lines[i + 1], lines[i]
    return lines


def _duplicate_past_the_clock() -> list[bytes]:
    """A re-sent event whose copy has a later timestamp: it must not move the other job's clock."""
    a, b = _contacts_in(2)
    return [
        _line("e1", a, T0),
        _line("e2", b, T0 + 1),
        _line("e1", a, T0 + 100 * DAY),  # a duplicate, whatever its timestamp
        _line("e3", b, T0 + 2 * DAY, type="identify", traits={"plan": "pro"}),
        _line("e4", b, T0 + 3 * DAY),
    ]


def _invalid_lines() -> list[bytes]:
    a, b = _contacts_in(2)
    return [
        b"not json",
        _line("e1", a, T0),
        b'{"event_id": "x"}',
        _line("e2", b, T0 + DAY),
        b"",
        _line("e3", b, T0 + 2 * DAY),
    ]


def _tricky_lines() -> list[bytes]:
    """Lines that decode to something other than a valid event: each job checks its own
    from the object it routed by, and must report what one job reports."""
    a, b = _contacts_in(2)
    return [
        _line("e1", a, T0),
        b"[1, 2]",
        b'"just a string"',
        b'{"event_id": "x", "contact_id": 5, "type": "t", "timestamp": "2026-11-20T10:00:00Z"}',
        _line("e2", b, T0 + DAY, timestamp="yesterday"),
        _line("e3", a, T0 + DAY, type=7),
        _line("e4", b, T0 + DAY, traits=[1]),
        _line("e" * 10_000, a, T0 + DAY),
        orjson.dumps({"event_id": "e5", "contact_id": b, "type": "page_view"}),
        _line("e6", b, T0 + 2 * DAY),
    ]


WINDOWED = ruleset(
    {
        "pro": trait("plan", "eq", "pro"),
        "active": behaviour("page_view", within=7 * DAY, operand=2),
    }
)
CASES = {
    "generated": (_generated, None),
    "generated, until": (_generated, T0 + 400 * DAY),
    "shuffled": (_shuffled, None),
    "timestamps in mixed forms": (_restamped, None),
    "duplicate past the clock": (_duplicate_past_the_clock, T0 + 30 * DAY),
    "invalid lines": (_invalid_lines, None),
    "tricky lines": (_tricky_lines, None),
}


@pytest.mark.parametrize("jobs", [2, 3])
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("rules_name", ["example", "windowed"])
def test_jobs_write_the_changes_of_one_job(
    tmp_path: Path, case: str, jobs: int, rules_name: str
) -> None:
    make, until = CASES[case]
    rules = load_file(EXAMPLE_RULES) if rules_name == "example" else WINDOWED
    lines = make()
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    one = _one_job(rules, lines, until)
    many, outcome = _jobs(rules, path, jobs, until)
    assert _by_contact(many) == _by_contact(one)
    assert sorted(many) == sorted(one)
    for part, result in zip(_parts(many, jobs), outcome.results, strict=True):
        assert result.written == len(part)


def _parts(written: list[bytes], jobs: int) -> list[list[bytes]]:
    """The output cut where the owning job changes: job 0's contacts first, then job 1's."""
    parts: list[list[bytes]] = [[] for _ in range(jobs)]
    last = 0
    for line in written:
        job = shard_of(orjson.loads(line)["contact_id"], jobs)
        assert job >= last, "the output is grouped by job, in job order"
        parts[job].append(line)
        last = job
    return parts


def test_a_duplicate_past_the_clock_takes_a_second_round(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(_duplicate_past_the_clock()) + b"\n")
    _, outcome = _jobs(WINDOWED, path, 2, None)
    assert outcome.rounds == 2
    assert outcome.counts.duplicate == 1


@pytest.mark.parametrize("make", [_invalid_lines, _tricky_lines])
def test_counts_and_skipped_lines_add_up_to_one_jobs(tmp_path: Path, make: Any) -> None:
    lines = make()
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    _, outcome = _jobs(WINDOWED, path, 2, None)
    skipped: list[tuple[int, str]] = []
    replayed_counts = _one_job_counts(WINDOWED, lines, skipped)
    assert astuple(outcome.counts) == replayed_counts
    assert [(n, reason) for n, reason, _ in outcome.skipped] == skipped


def _one_job_counts(
    rules: RuleSet, lines: Sequence[bytes], skipped: list[tuple[int, str]]
) -> tuple[int, ...]:
    from stream.core.evaluation.engine import Engine
    from stream.core.replay import Replayer

    replayer = Replayer(Engine(rules, horizon_us=DAY))
    list(
        replay_lines(
            rules, lines, replayer=replayer, on_invalid=lambda n, e: skipped.append((n, e.reason))
        )
    )
    return astuple(replayer.counts)


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_the_command_with_jobs_writes_what_one_job_writes(tmp_path: Path, source: str) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(_shuffled() + _invalid_lines()) + b"\n")

    def run(*extra: str) -> subprocess.CompletedProcess[bytes]:
        events = ["--events", "-"] if source == "stdin" else ["--events", str(path)]
        done = subprocess.run(
            [sys.executable, "-m", "stream", "replay", "--rules", str(EXAMPLE_RULES), *events,
             *extra],
            cwd=ROOT,
            input=path.read_bytes() if source == "stdin" else None,
            capture_output=True,
            timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done

    one, two = run(), run("--jobs", "2")
    assert _by_contact(two.stdout.splitlines()) == _by_contact(one.stdout.splitlines())
    assert sorted(two.stdout.splitlines()) == sorted(one.stdout.splitlines())
    skipped = [line for line in one.stderr.splitlines() if line.startswith(b"line ")]
    assert skipped
    assert [line for line in two.stderr.splitlines() if line.startswith(b"line ")] == skipped
    summary = one.stderr.splitlines()[-1].split(b" in ")[0]
    assert two.stderr.splitlines()[-1].split(b" in ")[0] == summary
