"""What the commands print for people: tail's lines, produce's checks, the demo's sample."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from stream.cli.demo import in_time_order, spread
from stream.cli.describe import describe, describe_dead_letter, segment_labels
from stream.cli.produce import checked_lines, raw_lines
from stream.cli.report import Skipped
from stream.cli.tail import command as tail_command
from stream.core.changes import Change, LifecycleChange, SegmentChange
from stream.core.language.loader import load_file
from stream.errors import InvalidInput
from tests.support import EXAMPLE_RULES, ROOT

LABELS = segment_labels(load_file(EXAMPLE_RULES))


def _segment(segment: str, change: str = "entered", **fields: object) -> SegmentChange:
    base: dict[str, object] = {
        "contact_id": "c-38",
        "segment": segment,
        "change": change,
        "at": "2026-11-01T01:09:30.250Z",
        "reason": "profile",
        "cause_event_id": "e-6",
        "rules_version": "v1",
        "seq": 1,
        "holdout": False,
    }
    return SegmentChange(**{**base, **fields})  # type: ignore[arg-type]


def _stage(from_: str | None, to: str | None) -> LifecycleChange:
    return LifecycleChange("c-38", from_, to, "2026-11-01T01:09:00Z", "event", "e-9", "v1", 2)


@pytest.mark.parametrize(
    ("change", "labels", "line"),
    [
        (_segment("persona_ceo_margie"), LABELS,
         "2026-11-01 01:09  c-38  entered  CEO Margie (persona_ceo_margie)  "
         "after profile update e-6"),
        (_segment("persona_ceo_margie"), {},
         "2026-11-01 01:09  c-38  entered  persona_ceo_margie  after profile update e-6"),
        (_segment("unsubscribed", reason="event"), LABELS,
         "2026-11-01 01:09  c-38  entered  unsubscribed  after event e-6"),
        (_segment("pricing_intent", "exited", reason="time", cause_event_id=None), LABELS,
         "2026-11-01 01:09  c-38  exited   Viewed pricing 3+ times in 7 days (pricing_intent)  "
         "as time passed"),
        (_segment("abm_lookalikes", holdout=True, reason="event"), LABELS,
         "2026-11-01 01:09  c-38  entered  Look like key accounts but are not named "
         "(abm_lookalikes)  [holdout]  after event e-6"),
        (_segment("gone", "exited", reason="rules", cause_event_id=None), LABELS,
         "2026-11-01 01:09  c-38  exited   gone  after a rules change"),
        (_stage("lead", "mql"), LABELS,
         "2026-11-01 01:09  c-38  stage    lead -> mql  after event e-9"),
        (_stage(None, "lead"), LABELS,
         "2026-11-01 01:09  c-38  stage    (none) -> lead  after event e-9"),
    ],
)  # fmt: skip
def test_a_change_reads_as_one_line(change: Change, labels: dict[str, str], line: str) -> None:
    assert describe(change, labels) == line


def test_every_segment_of_the_example_rules_has_a_label_with_its_id() -> None:
    mql = LABELS["marketing_qualified"]
    assert mql == "Marketing-qualified (MQL criteria) (marketing_qualified)"
    assert LABELS["persona_it_trevor"] == "IT Trevor (persona_it_trevor)"
    assert all(label.endswith(f"({sid})") or label == sid for sid, label in LABELS.items())


def test_the_schema_examples_of_dead_letters_read_as_two_lines() -> None:
    schema = json.loads((ROOT / "schemas" / "dead-letter.schema.json").read_text())
    text, binary, tombstone = schema["examples"]
    assert describe_dead_letter(text) == [
        "2026-11-20 10:00  not_json  contact-events partition 3 offset 1812  "
        "Expecting value: line 1 column 1 (char 0); send one JSON object per message",
        "    original: not json",
    ]
    assert describe_dead_letter(binary)[1] == "    original: b'\\xff'"
    assert describe_dead_letter(tombstone)[1] == "    original: (none: a tombstone)"


def test_a_long_or_multiline_original_is_shortened_to_one_line() -> None:
    original = b'{"a": "' + b"x" * 1000 + b'"}\n{"b": 1}'
    envelope = {
        "reason": "not_json",
        "detail": "trailing data\nafter the object",
        "source": {"topic": "t", "partition": 0, "offset": 7},
        "original": base64.b64encode(original).decode(),
        "original_text": original.decode(),
        "at": "2026-11-20T10:00:01Z",
    }
    head, shown = describe_dead_letter(envelope)
    assert head.endswith("trailing data\\nafter the object")
    assert shown.startswith('    original: {"a": "xxx')
    assert shown.endswith(f"... ({len(original):,} bytes in all)")


def test_a_truncated_original_says_how_long_the_message_was() -> None:
    start = b'{"a": "' + b"x" * 50
    envelope = {
        "reason": "too_large",
        "detail": "message of 2,000,000 bytes is over the limit",
        "source": {"topic": "t", "partition": 0, "offset": 7},
        "original": base64.b64encode(start).decode(),
        "original_text": None,
        "original_bytes": 2_000_000,
        "truncated": True,
        "at": "2026-11-20T10:00:01Z",
    }
    assert describe_dead_letter(envelope)[1].endswith("... (cut: 2,000,000 bytes in all)")


def test_produce_sends_the_valid_lines_and_reports_the_others_by_number(
    capsys: pytest.CaptureFixture[str],
) -> None:
    good = b'{"event_id":"e-1","contact_id":"c-1","type":"x","timestamp":"2026-11-01T00:00:00Z"}'
    lines = [good + b"\n", b"\n", b"not json\n", b'{"event_id":"e-2"}\n', b"  " + good + b"\r\n"]
    skipped = Skipped()
    assert list(checked_lines(lines, skipped)) == [(b"c-1", good), (b"c-1", good)]
    assert skipped.summary() == "2 skipped (not_json 1, missing_field 1)"
    reports = capsys.readouterr().err.splitlines()
    assert [r.split(": ")[:2] for r in reports] == [
        ["line 3", "not_json"], ["line 4", "missing_field"],
    ]  # fmt: skip


def test_no_validate_sends_every_line_as_it_is() -> None:
    lines = [b'{"contact_id":"c-1"}\n', b"\n", b"not json \r\n", b"last"]
    assert list(raw_lines(lines)) == [
        (b"c-1", b'{"contact_id":"c-1"}'), (None, b""), (None, b"not json "), (None, b"last"),
    ]  # fmt: skip


def test_skipped_counts_by_reason_most_common_first() -> None:
    skipped = Skipped()
    for reason in ["a", "b", "b"]:
        skipped(1, InvalidInput(reason, "x"))
    assert skipped.summary() == "3 skipped (b 2, a 1)"
    assert Skipped().summary() == "0 skipped"


def test_tail_names_an_unknown_segment_before_it_connects() -> None:
    args = ["--rules", str(EXAMPLE_RULES), "--segment", "pricing_intnet",
            "--broker", "kafka://127.0.0.1:1"]  # fmt: skip
    result = CliRunner().invoke(tail_command, args)
    assert result.exit_code == 2
    assert "has no segment 'pricing_intnet' (did you mean pricing_intent?); it" in result.output


def test_tail_refuses_change_filters_on_dead_letters() -> None:
    result = CliRunner().invoke(tail_command, ["--dead-letters", "--contact", "c-1"])
    assert result.exit_code == 2
    assert "filter changes, not dead letters" in result.output


def test_tail_reports_rules_that_do_not_load(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: 1\nsegments: [{id: x}]\n")
    result = CliRunner().invoke(tail_command, ["--rules", str(rules)])
    assert result.exit_code == 2, result.output


def test_the_demo_shows_changes_in_time_order_spread_over_the_stream() -> None:
    stamps = ["2026-11-01T00:00:02Z", "2026-11-01T00:00:01.500Z", "2026-11-01T00:00:01Z"]
    changes = [_segment("x", at=at, seq=i) for i, at in enumerate(stamps)]
    assert [c.at for c in in_time_order(changes)] == stamps[::-1]
    items = list(range(10))
    assert spread(items, 4) == [0, 3, 6, 9]
    assert spread(items, 1) == [0]
    assert spread(items, 20) == items
