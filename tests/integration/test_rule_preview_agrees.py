"""`rules preview` says what the worker's switch then does, segment by segment (issue 15)."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson

from stream.cli.rules_preview import EXAMPLES
from stream.core.changes import Change
from stream.core.language.loader import load_file
from stream.core.timefmt import SECOND, format_ts, parse_ts
from stream.testing.generate import generate
from stream.testing.worker import Names, broker_url
from tests.e2e.harness import closing_events
from tests.support import EXAMPLE_RULES, ROOT
from tests.support.switching import (
    View,
    every_switch,
    fold,
    publish_file,
    published,
    version_b,
    worker_on,
)

PARTITIONS = 2


def test_the_preview_of_the_topic_and_of_the_file_is_what_the_switch_changes(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    old, (new_file, new) = load_file(EXAMPLE_RULES), version_b(tmp_path)
    events = [orjson.dumps(e) for e in generate(300, 4000, seed=3, days=30.0)]
    # The preview compares both versions at the end of the history; each partition switches
    # at its own clock. One last event on every partition at the same instant `end` makes
    # them one instant: every partition's clock is `end` (--clock event), and so is the
    # preview's.
    end = max(parse_ts(orjson.loads(line)["timestamp"]) for line in events) + SECOND
    lines = events + closing_events(PARTITIONS, end)
    history = tmp_path / "events.jsonl"
    history.write_bytes(b"\n".join(lines) + b"\n")
    names = Names(unique_name)
    with worker_on(
        kafka_bootstrap, names, lines, tmp_path, PARTITIONS, timeout=120, clock="event"
    ) as worker:
        from_topic = _preview(kafka_bootstrap, names, new_file)
        from_file = _preview(
            kafka_bootstrap, names, new_file, "--current", str(EXAMPLE_RULES),
            "--events", str(history),
        )  # fmt: skip
        publish_file(kafka_bootstrap, new_file, names.definitions)
        switched = every_switch(kafka_bootstrap, names, new.version_hash, PARTITIONS, 120)
        # A partition's switch record is written once its changes are acknowledged.
        changes = published(kafka_bootstrap, names.changes)
    worker.assert_healthy()

    assert {p: s.at for p, s in switched.items()} == dict.fromkeys(range(PARTITIONS), end)
    assert from_topic == from_file  # neither names its source
    assert from_topic["history"]["last"] == format_ts(end)
    assert (from_topic["from_version"], from_topic["to_version"]) == (
        old.version_hash,
        new.version_hash,
    )
    before = [c for c in changes if c.rules_version == old.version_hash]
    rules = [c for c in changes if c.reason == "rules"]
    assert len(before) + len(rules) == len(changes)  # nothing after the switch
    assert rules and {(parse_ts(c.at), c.rules_version) for c in rules} == {(end, new.version_hash)}
    # Lifecycle changes of the switch are not in the preview: it is about segments only.
    expected = _expected(before, rules)
    segments = {s["id"]: s for s in from_topic["segments"]}
    assert segments.keys() == {s.id for s in old.segments} | {s.id for s in new.segments}
    assert expected.keys() <= segments.keys()  # no segment the switch changed is missing
    for segment, found in segments.items():
        counts = {k: v for k, v in found.items() if k not in ("id", "status")}
        assert counts == expected.get(segment, _NOTHING), segment
    assert segments["demo_requesters"]["status"] == "added"
    assert segments["content_bingers"]["status"] == "removed"
    assert segments["demo_requesters"]["enter"] > 0 and segments["content_bingers"]["leave"] > 0


_NOTHING = {"before": 0, "after": 0, "enter": 0, "leave": 0, "examples": {"enter": [], "leave": []}}


def _expected(before: list[Change], rules: list[Change]) -> dict[str, dict[str, Any]]:
    """The preview's figures of each segment with members or changes, from the worker's
    changes: the members under the old version at the switch, after it, and the switch's
    own entries and exits (each one a real difference, `fold`'s strict check)."""
    old, new = _members(fold(before)), _members(fold(before + rules, strict=True))
    moved: dict[tuple[str, str], list[str]] = defaultdict(list)
    for change in rules:
        if change.kind == "segment":
            moved[change.segment, change.change].append(change.contact_id)
    out = {}
    for segment in old.keys() | new.keys() | {s for s, _ in moved}:
        enter, leave = sorted(moved[segment, "entered"]), sorted(moved[segment, "exited"])
        out[segment] = {
            "before": len(old[segment]),
            "after": len(new[segment]),
            "enter": len(enter),
            "leave": len(leave),
            "examples": {"enter": enter[:EXAMPLES], "leave": leave[:EXAMPLES]},
        }
    return out


def _members(view: View) -> dict[str, set[str]]:
    members: dict[str, set[str]] = defaultdict(set)
    for contact, (segments, _stage) in view.items():
        for segment in segments:
            members[segment].add(contact)
    return members


def _preview(bootstrap: str, names: Names, rules: Path, *args: str) -> dict[str, Any]:
    """`segstream rules preview RULES --json` as a user runs it; it must succeed."""
    done = subprocess.run(
        [sys.executable, "-m", "stream", "rules", "preview", str(rules), "--json", *args,
         "--broker", broker_url(bootstrap), "--topic", names.definitions,
         "--events-topic", names.events],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = orjson.loads(done.stdout)
    return report
