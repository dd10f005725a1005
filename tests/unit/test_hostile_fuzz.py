"""Hostile messages through the worker's pure path and through `segstream replay`: never an
exception, every message applied, a duplicate, or rejected with a known reason.

The example count follows HYPOTHESIS_PROFILE (tests/support/strategies.py): `ci` by default,
`thorough` for a soak run outside CI.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import event, given, settings
from hypothesis import strategies as st

from stream.cli.replay import command as replay_command
from stream.core.evaluation.engine import Engine
from stream.core.events import REASONS, check_future, check_size, decode_event, parse_event
from stream.core.replay import Replayer
from stream.errors import InvalidInput
from tests.support.hostile import EXAMPLE_RULES, RULE_SETS, messages
from tests.support.strategies import profile

NOW_US = 1_796_083_200 * 1_000_000  # 2026-12-01T00:00:00Z
HOUR_US = 3600 * 1_000_000
UNTIL = "2030-01-01T00:00:00Z"


@given(
    batch=st.lists(messages(), min_size=1, max_size=25), rules=st.sampled_from(sorted(RULE_SETS))
)
@profile()
def test_every_hostile_message_is_applied_or_rejected(
    batch: list[bytes | None], rules: str
) -> None:
    engine = Engine(RULE_SETS[rules])
    replayer = Replayer(engine)
    rejected = 0
    for raw in batch:
        try:  # the worker's checks, with a wall clock
            parse_event(raw, max_bytes=1_048_576, max_future_us=HOUR_US, now_us=NOW_US)
        except InvalidInput as error:
            assert error.reason in REASONS
        try:  # replay's, whose clock is event time
            found = decode_event(raw)
        except InvalidInput as error:
            assert error.reason in REASONS
            assert len(error.detail) < 1000
            event(f"rejected: {error.reason}")
            rejected += 1
            continue
        event("applied or duplicate")
        replayer.feed(found)
        state = replayer.states[found.contact_id]
        # What the worker stores must encode, and decode to the same.
        encoded = engine.snapshot(state)
        assert engine.snapshot(engine.restore(encoded, found.contact_id)) == encoded
    replayer.advance(NOW_US + 400 * 86_400 * 1_000_000)  # every deadline fires
    counts = replayer.counts
    assert counts.applied + counts.duplicate + rejected == len(batch)


def _expected_reports(data: bytes, wall_us: int) -> list[str]:
    """`line N: reason` for every non-blank physical line that does not decode (or is over
    the default 1 MiB), or whose timestamp is more than the default hour past the wall
    clock."""
    reports = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            check_size(line, 1_048_576)
            check_future(decode_event(line).ts, wall_us, HOUR_US)
        except InvalidInput as error:
            reports.append(f"line {number}: {error.reason}")
    return reports


@given(batch=st.lists(messages(), min_size=1, max_size=25))
@settings(profile(), max_examples=max(1, profile().max_examples // 3))  # a CLI run each
def test_replay_reports_every_bad_line_and_exits_0(batch: list[bytes | None]) -> None:
    data = b"\n".join(b"" if raw is None else raw for raw in batch) + b"\n"
    with tempfile.TemporaryDirectory() as scratch:
        events = Path(scratch) / "events.jsonl"
        events.write_bytes(data)
        # The stamps lie weeks or centuries from now, never near the tolerance's edge.
        wall_us = time.time_ns() // 1000
        result = CliRunner().invoke(
            replay_command,
            ["--rules", str(EXAMPLE_RULES), "--events", str(events), "--until", UNTIL],
        )
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.split("\n")
    assert lines.pop() == ""
    assert all(line.isprintable() for line in lines)
    lines = _reports(lines)
    reported = [": ".join(line.split(": ")[:2]) for line in lines]
    assert reported == _expected_reports(data, wall_us)


@pytest.mark.parametrize(
    ("lines", "reasons"),
    [
        (  # the issue's payloads that crashed replay
            [
                b'{"event_id":"e1","contact_id":"c1","type":"content_download",'
                b'"timestamp":"2026-11-20T10:00:00Z","properties":{"content_id":"'
                + b"x" * 600_000
                + b'"}}',
                b'{"event_id":"e2","contact_id":"c1","type":"content_download",'
                b'"timestamp":"2026-11-20T10:00:01Z","properties":{"content_id":"'
                + b"y" * 600_000
                + b'"}}',
                b'{"event_id":"e3","contact_id":"c1","type":"purchase",'
                b'"timestamp":"2026-11-20T10:00:02Z","properties":{"amount":1e308}}',
                b'{"event_id":"e4","contact_id":"c1","type":"purchase",'
                b'"timestamp":"2026-11-20T10:00:03Z","properties":{"amount":1e308}}',
                b'{"event_id":"e5","contact_id":"c1","type":"identify",'
                b'"timestamp":"9999-12-31T23:30:00-01:00","traits":{"email":"a@b.c"}}',
            ],
            ["text_too_long", "text_too_long", "number_out_of_range", "number_out_of_range",
             "timestamp_out_of_range"],
        ),
        (  # year 1 as the first line
            [
                b'{"event_id":"e1","contact_id":"c1","type":"identify",'
                b'"timestamp":"0001-01-01T00:00:00+01:00","traits":{"newsletter":true}}',
                b'{"event_id":"e2","contact_id":"c1","type":"identify",'
                b'"timestamp":"2026-11-20T10:00:00Z","traits":{"newsletter":true}}',
            ],
            ["timestamp_out_of_range"],
        ),
    ],
)  # fmt: skip
def test_the_issue_payloads_through_replay(lines: list[bytes], reasons: list[str]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        events = Path(scratch) / "events.jsonl"
        events.write_bytes(b"\n".join(lines) + b"\n")
        result = CliRunner().invoke(
            replay_command, ["--rules", str(EXAMPLE_RULES), "--events", str(events)]
        )
    assert result.exit_code == 0, result.stderr
    reports = _reports(result.stderr.splitlines())
    assert [line.split(": ")[1] for line in reports] == reasons
    assert [int(line.split(":")[0].removeprefix("line ")) for line in reports] == [
        i for i in range(1, len(reasons) + 1)
    ]


def _reports(lines: list[str]) -> list[str]:
    """Replay's standard error less its closing summary, which must count every report."""
    *reports, summary = lines
    assert summary.startswith("replay: read "), summary
    skipped = re.search(r" ([\d,]+) skipped", summary)
    assert skipped is not None and int(skipped[1].replace(",", "")) == len(reports), summary
    return reports
