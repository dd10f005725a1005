"""Definitions topic records, version differences, and `rules preview` over an events file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from stream.core import definitions
from stream.core.definitions import Switch, Version, decode, encode, statuses, windows
from stream.core.language.loader import load_file, load_text
from stream.core.replay import replay_lines
from stream.testing.generate import generate
from tests.support import DAY, EXAMPLE_RULES, ROOT

BASE = """
version: 1
segments:
  - id: pricing
    when: {event: page_view, where: {path: /pricing}, within: 7d, count: {gte: 3}}
  - id: buyers
    when: {in_segment: pricing}
  - id: gone
    when: {event: unsubscribe}
"""
NEXT = """
version: 1
segments:
  - id: pricing
    when: {event: page_view, where: {path: /pricing}, within: 7d, count: {gte: 2}}
  - id: buyers
    when: {in_segment: pricing}
  - id: demo
    when: {event: demo_request, within: 14d}
"""


@pytest.mark.parametrize(
    "record",
    [
        Version("3f9a1c2b8d7e", 1_700_000_000_000_000, "segments.yaml", BASE),
        Switch("segstream", 3, "3f9a1c2b8d7e", 1_700_000_000_000_001),
    ],
)
def test_a_record_reads_back_as_written(record: definitions.Record) -> None:
    key, value = encode(record)
    assert decode(value) == record
    assert key.decode().startswith(("version:", "switched:"))


@pytest.mark.parametrize(
    "value",
    [None, b"", b"not json", b"[]", b'{"kind": "version"}', b'{"kind": "other"}',
     b'{"kind": "version", "rules_version": "x", "published_at": "soon", "source": "f",'
     b' "text": ""}',
     b'{"kind": "version", "rules_version": "x", "published_at": "2026-01-01T00:00:00Z",'
     b' "source": "f", "text": 3}'],
)  # fmt: skip
def test_anything_else_on_the_topic_is_no_record(value: bytes | None) -> None:
    assert decode(value) is None


def test_statuses_follow_what_a_segment_depends_on() -> None:
    before, after = load_text(BASE), load_text(NEXT)
    assert statuses(before, after) == {
        "buyers": "changed",  # its own condition is the same, the segment it tests is not
        "demo": "added",
        "gone": "removed",
        "pricing": "changed",
    }
    assert statuses(None, after) == dict.fromkeys(("buyers", "demo", "pricing"), "added")
    assert set(statuses(after, after).values()) == {"unchanged"}


def test_summary_says_what_changed() -> None:
    before, after = load_text(BASE), load_text(NEXT)
    assert definitions.summary(None, after) == "first version"
    assert definitions.summary(before, after) == "added demo; removed gone; changed buyers, pricing"
    assert definitions.summary(after, after) == "no segment changed"


def test_windows_include_those_of_the_segments_tested() -> None:
    rules = load_text(BASE)
    assert windows(rules, "buyers") == [7 * DAY]
    assert windows(rules, "gone") == [None]


def _preview(tmp_path: Path, events: Path, *extra: str) -> subprocess.CompletedProcess[bytes]:
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "next.yaml").write_text(NEXT)
    return subprocess.run(
        [sys.executable, "-m", "stream", "rules", "preview", str(tmp_path / "next.yaml"),
         "--current", str(tmp_path / "base.yaml"), "--events", str(events), *extra],
        cwd=ROOT, capture_output=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_preview_counts_are_those_of_two_replays(tmp_path: Path, jobs: str) -> None:
    events = tmp_path / "events.jsonl"
    lines = [orjson.dumps(e) for e in generate(300, 6000, seed=5)]
    events.write_bytes(b"\n".join(lines) + b"\n")
    done = _preview(tmp_path, events, "--json", "--jobs", jobs)
    assert done.returncode == 0, done.stderr
    report = orjson.loads(done.stdout)
    before = _members(load_text(BASE), lines)
    after = _members(load_text(NEXT), lines)
    assert report["from_version"] == load_text(BASE).version_hash
    assert report["to_version"] == load_text(NEXT).version_hash
    assert report["history"]["events"] == len(lines)
    by_id = {s["id"]: s for s in report["segments"]}
    assert sorted(by_id) == ["buyers", "demo", "gone", "pricing"]
    for segment_id, got in by_id.items():
        old, new = before.get(segment_id, set()), after.get(segment_id, set())
        assert (got["before"], got["after"]) == (len(old), len(new))
        assert (got["enter"], got["leave"]) == (len(new - old), len(old - new))
        assert got["examples"] == {"enter": sorted(new - old)[:5], "leave": sorted(old - new)[:5]}
    assert by_id["gone"]["status"] == "removed" and by_id["gone"]["after"] == 0
    assert by_id["pricing"]["enter"] > 0  # the lower threshold lets more in


def _members(rules: object, lines: list[bytes]) -> dict[str, set[str]]:
    """Memberships at the end of the history, folded from replay's change messages."""
    members: dict[str, set[str]] = {}
    for change in replay_lines(rules, lines):  # type: ignore[arg-type]
        if change.kind == "segment":
            group = members.setdefault(change.segment, set())
            if change.change == "entered":
                group.add(change.contact_id)
            else:
                group.discard(change.contact_id)
    return members


def test_preview_names_segments_whose_window_is_longer_than_the_history(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(orjson.dumps(e) for e in generate(20, 50, days=1.0)) + b"\n")
    done = _preview(tmp_path, events)
    assert done.returncode == 0, done.stderr
    assert b"demo: may be undercounted: a window of 2w is longer than the history" in done.stderr
    assert b"segment" in done.stdout.splitlines()[1]


def test_preview_rejects_a_file_that_does_not_load_with_every_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nsegments:\n  - id: a\n    when: {trait: x, greater: 1}\n"
                   "  - id: b\n    when: {in_segment: nowhere}\n")  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "stream", "rules", "preview", str(bad), "--current",
         str(EXAMPLE_RULES), "--events", str(bad)],
        cwd=ROOT, capture_output=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    errors = done.stderr.decode().splitlines()
    assert len(errors) >= 2 and all(line.startswith(str(bad)) for line in errors), errors
    assert load_file(EXAMPLE_RULES)  # the current version is untouched, of course
