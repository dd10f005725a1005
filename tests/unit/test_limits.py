"""Limits on input messages: each one at its bound and just past it, with the reason it gives,
and the hostile payloads of issue 11 rejected before the engine sees them."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from stream.core.events import (
    REASONS,
    check_future,
    decode_event,
    event_from_object,
    parse_event,
)
from stream.core.language.validate_schema import DEAD_LETTER, load_schema
from stream.core.limits import DEFAULT_LIMITS, MAX_DEPTH, Limits
from stream.core.timefmt import SECOND, format_ts
from stream.errors import InvalidInput

LIMITS = DEFAULT_LIMITS


def event(**fields: Any) -> dict[str, Any]:
    base = {"event_id": "e1", "contact_id": "c1", "type": "page_view"}
    return {**base, "timestamp": "2026-11-20T10:00:00Z", **fields}


def nested(depth: int, leaf: Any = 1) -> Any:
    """An object `depth` levels deep (depth 1 is `{"a": leaf}`)."""
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


def reason_of(raw: bytes | str | None, limits: Limits = LIMITS) -> str | None:
    try:
        decode_event(raw, limits)
    except InvalidInput as error:
        return error.reason
    return None


def dumps(obj: Any) -> bytes:
    return json.dumps(obj).encode()  # not orjson: it refuses 255 levels and more


TEXT = LIMITS.text_chars
# (what, message, reason or None when it is applied)
CASES: list[tuple[str, bytes | None, str | None]] = [
    ("tombstone", None, "tombstone"),
    ("empty", b"", "empty"),
    ("only whitespace", b" \r\n\t", "empty"),
    ("longest event id", dumps(event(event_id="e" * LIMITS.event_id_chars)), None),
    ("event id too long", dumps(event(event_id="e" * 400_000)), "event_id_too_long"),
    ("longest contact id", dumps(event(contact_id="c" * 256)), None),
    ("contact id too long", dumps(event(contact_id="c" * 257)), "contact_id_too_long"),
    ("empty contact id", dumps(event(contact_id="")), "wrong_type"),
    ("type too long", dumps(event(type="t" * (TEXT + 1))), "text_too_long"),
    ("longest property", dumps(event(properties={"content_id": "x" * TEXT})), None),
    ("property too long", dumps(event(properties={"content_id": "x" * 600_000})), "text_too_long"),
    (
        "trait too long",
        dumps(event(type="identify", traits={"t": "x" * (TEXT + 1)})),
        "text_too_long",
    ),
    (
        "list item too long",
        dumps(event(properties={"tags": ["a", "x" * (TEXT + 1)]})),
        "text_too_long",
    ),
    (
        "nested key too long",
        dumps(event(properties={"a": {"k" * (TEXT + 1): 1}})),
        "text_too_long",
    ),
    ("deepest traits", dumps(event(type="identify", traits=nested(LIMITS.depth))), None),
    (
        "traits too deep",
        dumps(event(type="identify", traits={"company": nested(300)})),
        "too_deep",
    ),
    ("properties too deep", dumps(event(properties={"content_id": nested(300)})), "too_deep"),
    (
        "lists count as levels",
        dumps(event(properties={"a": [[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]})),
        "too_deep",
    ),
    ("most values", dumps(event(properties={str(i): i for i in range(LIMITS.values)})), None),
    (
        "too many values",
        dumps(event(properties={str(i): i for i in range(LIMITS.values + 1)})),
        "too_many_values",
    ),
    (
        "values at every depth count",
        dumps(event(properties={"a": list(range(LIMITS.values))})),
        "too_many_values",
    ),
    ("largest number", dumps(event(properties={"amount": LIMITS.number_magnitude})), None),
    (
        "amount 1e308",
        dumps(event(type="purchase", properties={"amount": 1e308})),
        "number_out_of_range",
    ),
    (
        "negative 1e308 trait",
        dumps(event(type="identify", traits={"n": [-1e308]})),
        "number_out_of_range",
    ),
    ("64-bit ints", dumps(event(properties={"id": 2**64 - 1, "n": -(2**63)})), None),
    ("earliest timestamp", dumps(event(timestamp="1970-01-01T00:00:00Z")), None),
    (
        "before 1970",
        dumps(event(timestamp="1969-12-31T23:59:59.999999Z")),
        "timestamp_out_of_range",
    ),
    ("latest timestamp", dumps(event(timestamp="2999-12-31T23:59:59.999999Z")), None),
    (
        "year 3000 in UTC",
        dumps(event(timestamp="2999-12-31T23:30:00-01:00")),
        "timestamp_out_of_range",
    ),
    (
        "identify at 9999",
        dumps(
            event(type="identify", timestamp="9999-12-31T23:30:00-01:00", traits={"email": "a@b.c"})
        ),
        "timestamp_out_of_range",
    ),
    (
        "9999-12-31T23:59:59Z",
        dumps(event(timestamp="9999-12-31T23:59:59Z")),
        "timestamp_out_of_range",
    ),
    (
        "year 1 with an offset",
        dumps(event(timestamp="0001-01-01T00:00:00+01:00")),
        "timestamp_out_of_range",
    ),
    ("lenient timestamp", dumps(event(timestamp="2026-11-01T10:00:00.Z")), "bad_timestamp"),
    (
        "duplicate keys: the last wins",
        b'{"event_id":"e1","event_id":7,"contact_id":"c1",'
        b'"type":"x","timestamp":"2026-11-20T10:00:00Z"}',
        "wrong_type",
    ),
    ("invalid UTF-8", b'{"event_id":"\xff","contact_id":"c1"}', "not_json"),
    ("infinity", b'{"event_id":"e","properties":{"a":1e400}}', "not_json"),
    ("NaN", b'{"event_id":"e","properties":{"a":NaN}}', "not_json"),
]


@pytest.mark.parametrize(("what", "raw", "reason"), CASES, ids=[c[0] for c in CASES])
def test_limit(what: str, raw: bytes | None, reason: str | None) -> None:
    assert reason_of(raw) == reason


def test_the_worker_entry_point_rejects_tombstones_too() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_event(None, max_bytes=100)
    assert caught.value.reason == "tombstone"


def test_limits_can_be_changed() -> None:
    small = Limits(text_chars=9, depth=1, values=2, event_id_chars=2, number_magnitude=10)
    assert reason_of(dumps(event(properties={"a": "x" * 10})), small) == "text_too_long"
    assert reason_of(dumps(event(properties={"a": {"b": 1}})), small) == "too_deep"
    assert reason_of(dumps(event(properties={"a": 1, "b": 2, "c": 3})), small) == "too_many_values"
    assert reason_of(dumps(event(event_id="abc")), small) == "event_id_too_long"
    assert reason_of(dumps(event(properties={"a": 11})), small) == "number_out_of_range"
    wide = Limits(earliest_us=-62_135_596_800 * SECOND)
    assert reason_of(dumps(event(timestamp="0001-01-01T00:00:00Z")), wide) is None


@pytest.mark.parametrize(
    "fields",
    [
        {"depth": 0},
        {"depth": MAX_DEPTH + 1},
        {"values": 0},
        {"text_chars": 0},
        {"match_chars": 0},
        {"number_magnitude": math.inf},
        {"number_magnitude": 1e300},
        {"earliest_us": 10, "latest_us": 10},
        {"latest_us": 253_402_300_800 * SECOND + 1},
    ],
)
def test_limits_out_of_their_own_range_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="limit"):
        Limits(**fields)


def test_every_limit_has_a_one_line_doc() -> None:
    for field in Limits.__dataclass_fields__.values():
        doc = field.metadata["doc"]
        assert doc and "\n" not in doc and doc.endswith(".")


# Values built in Python rather than decoded: what no JSON decoder produces is refused too.
@pytest.mark.parametrize(
    ("properties", "reason"),
    [
        ({"a": math.nan}, "number_out_of_range"),
        ({"a": [math.inf]}, "number_out_of_range"),
        ({"a": 10**400}, "number_out_of_range"),
        ({"a": 2**64}, "wrong_type"),  # within the magnitude, beyond what can be stored
        ({"a": "\ud800"}, "wrong_type"),
        ({"a": {1: "x"}}, "wrong_type"),
        ({"a": (1, 2)}, "wrong_type"),
        ({"a": {"b": {1, 2}}}, "wrong_type"),
        ({"a": b"bytes"}, "wrong_type"),
        ({"a": nested(100_000)}, "too_deep"),  # deeper than recursion would go
    ],
)
def test_python_values(properties: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        event_from_object(event(properties=properties))
    assert caught.value.reason == reason


def test_future_tolerance() -> None:
    now = 1_795_168_800 * SECOND
    check_future(now + 3600 * SECOND, now, 3600 * SECOND)
    with pytest.raises(InvalidInput) as caught:
        check_future(now + 3600 * SECOND + 1, now, 3600 * SECOND)
    assert caught.value.reason == "too_far_in_future"
    assert format_ts(now) in caught.value.detail


def test_details_stay_short() -> None:
    """A detail quotes a hostile value's size, not the value: dead letters carry it."""
    raws = [raw for _, raw, reason in CASES if reason is not None and raw is not None]
    raws.append(dumps(event(properties={"k" * 100_000: {"x": "y" * 100_000}})))
    for raw in raws:
        with pytest.raises(InvalidInput) as caught:
            parse_event(raw, key=b"k" * 100_000)
        assert len(caught.value.detail) < 500


def test_reasons_are_listed_in_the_dead_letter_schema() -> None:
    description = load_schema(DEAD_LETTER)["properties"]["reason"]["description"]
    for reason in REASONS:
        assert reason in description


def test_what_the_limits_let_through_can_be_stored() -> None:
    """The deepest, longest values the limits allow encode into state (no RecursionError)."""
    from stream.core.evaluation.engine import Engine
    from stream.core.language.loader import load_dict

    rules = load_dict(
        {
            "version": 1,
            "segments": [
                {"id": "a", "when": {"trait": "company", "exists": True}},
                {"id": "b", "when": {"event": "x", "distinct": {"property": "p", "gte": 2}}},
            ],
        }
    )
    engine = Engine(rules)
    deep = nested(LIMITS.depth - 2, [1.5, "x" * TEXT])  # traits and the list are levels too
    identify = event_from_object(event(type="identify", traits={"company": deep}))
    state, _ = engine.on_item(None, identify, identify.ts)
    behaviour = event_from_object(event(type="x", event_id="e2", properties={"p": deep}))
    state, _ = engine.on_item(state, behaviour, behaviour.ts)
    encoded = engine.snapshot(state)
    assert len(encoded) > TEXT
    assert engine.snapshot(engine.restore(encoded, "c1")) == encoded
