"""Change messages: the engine's typed changes publish exactly segment-change.schema.json."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from stream.core import changes
from stream.core.changes import Change, LifecycleChange, SegmentChange
from stream.core.language.loader import load_dict, load_file
from stream.core.language.validate_schema import SEGMENT_CHANGE, validator
from stream.core.replay import replay_objects
from stream.core.timefmt import parse_ts
from stream.testing.generate import generate

EXAMPLE = Path(__file__).resolve().parents[2] / "stream" / "examples" / "segments.yaml"

# The key order published before the messages were typed: the bytes must not change.
SEGMENT_KEYS = [
    "kind", "contact_id", "segment", "change", "at", "reason", "cause_event_id",
    "rules_version", "seq", "holdout",
]  # fmt: skip
LIFECYCLE_KEYS = [
    "kind", "contact_id", "from", "to", "at", "reason", "cause_event_id", "rules_version", "seq",
]  # fmt: skip

SEGMENT = SegmentChange("c-42", "mql", "entered", "2026-11-20T10:00:00Z", "event", "e-1029",
                        "3f9a1c", 7, False)  # fmt: skip
STAGE = LifecycleChange("c-42", "lead", None, "2026-11-20T10:00:00Z", "time", None, "3f9a1c", 8)


@pytest.fixture(scope="module")
def produced() -> list[Change]:
    stream = list(generate(200, 3000, seed=3))
    until = parse_ts("2027-03-01T00:00:00Z")
    held = load_dict(
        {"version": 1, "segments": [{"id": "vip", "when": {"event": "v"}, "holdout": 0.999999}]}
    )
    view = {"event_id": "e1", "contact_id": "c1", "type": "v", "timestamp": "2026-11-20T10:00:00Z"}
    return replay_objects(load_file(EXAMPLE), stream, until) + replay_objects(held, [view])


def test_the_engine_produces_every_kind_reason_and_holdout(produced: list[Change]) -> None:
    kinds = {(c.kind, c.reason) for c in produced}
    assert {("segment", r) for r in ("event", "profile", "time")} <= kinds
    assert ("lifecycle", "profile") in kinds or ("lifecycle", "event") in kinds
    assert any(isinstance(c, SegmentChange) and c.holdout for c in produced)


def test_every_produced_change_validates_against_the_schema(produced: list[Change]) -> None:
    check = validator(SEGMENT_CHANGE)
    for change in produced:
        published = orjson.loads(changes.encode(change))
        assert list(check.iter_errors(published)) == [], published


def test_published_keys_keep_their_order(produced: list[Change]) -> None:
    for change in produced:
        keys = list(orjson.loads(changes.encode(change)))
        assert keys == (SEGMENT_KEYS if isinstance(change, SegmentChange) else LIFECYCLE_KEYS)


@pytest.mark.parametrize("change", [SEGMENT, STAGE], ids=["segment", "lifecycle"])
def test_bytes_decode_to_the_same_change(change: Change) -> None:
    data = changes.encode(change)
    assert changes.decode(data) == change
    assert changes.encode(changes.decode(data)) == data
    assert validator(SEGMENT_CHANGE).is_valid(orjson.loads(data))


def test_the_lifecycle_field_from_is_published_as_from() -> None:
    assert orjson.loads(changes.encode(STAGE))["from"] == "lead"
    assert "from_" not in changes.encode(STAGE).decode()


def test_changes_are_immutable() -> None:
    with pytest.raises(AttributeError):
        SEGMENT.seq = 8  # type: ignore[misc]
    with pytest.raises(AttributeError):
        STAGE.to = "mql"  # type: ignore[misc]


def test_a_segment_change_never_equals_a_lifecycle_change() -> None:
    assert SEGMENT.kind == "segment" and STAGE.kind == "lifecycle"
    assert len(SEGMENT) != len(STAGE)  # tuples of different lengths are never equal


@pytest.mark.parametrize(
    "obj",
    [
        [1],
        {"kind": "segment", "contact_id": "c1"},
        {**STAGE.to_json(), "kind": "stage"},
        {k: v for k, v in STAGE.to_json().items() if k != "from"},
    ],
    ids=["not an object", "missing fields", "unknown kind", "lifecycle without from"],
)
def test_what_is_not_a_change_is_refused(obj: object) -> None:
    with pytest.raises(ValueError, match="not a change message"):
        changes.from_json(obj)
