"""RFC 3339 parsing and formatting: round trips, and the engine's grammar equal to the schemas'."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stream.core.language.validate_schema import (
    CONTACT_EVENT,
    DEAD_LETTER,
    SEGMENT_CHANGE,
    load_schema,
    validator,
)
from stream.core.timefmt import TIMESTAMP_PATTERN, format_ts, parse_ts
from tests.support.strategies import profile


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("2026-11-20T10:00:00Z", "2026-11-20T10:00:00Z"),
        ("2026-11-20T11:00:00+01:00", "2026-11-20T10:00:00Z"),
        ("2026-11-20T10:00:00.250Z", "2026-11-20T10:00:00.250Z"),
        ("2026-11-20T10:00:00.000001Z", "2026-11-20T10:00:00.000001Z"),
        ("2026-11-20t10:00:00z", "2026-11-20T10:00:00Z"),
        ("0999-12-31T23:59:59Z", "0999-12-31T23:59:59Z"),  # four-digit years, always
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
        # Valid RFC 3339 whose UTC instant lies outside the years 0001-9999.
        ("0001-01-01T00:00:00+01:00", "0000-12-31T23:00:00Z"),
        ("9999-12-31T23:30:00-01:00", "10000-01-01T00:30:00Z"),
    ],
)
def test_round_trip(text: str, canonical: str) -> None:
    assert format_ts(parse_ts(text)) == canonical


@pytest.mark.parametrize("us", [-(10**18), 10**19, 253_402_300_800 * 10**6 + 1])
def test_format_never_raises(us: int) -> None:
    assert format_ts(us).endswith("Z")


@pytest.mark.parametrize(
    "text", ["2026-11-20", "2026-11-20T10:00:00", "yesterday", "2026-13-01T00:00:00Z", ""]
)
def test_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_ts(text)


# (timestamp, valid): the engine and the schemas must agree on every row.
GRAMMAR = [
    ("2026-11-01T10:00:00Z", True),
    ("2026-11-01t10:00:00z", True),
    ("2026-11-01T10:00:00.5Z", True),
    ("2026-11-01T10:00:00.123456789Z", True),  # digits beyond microseconds are dropped
    ("2026-11-01T10:00:00+01:00", True),
    ("2026-11-01T10:00:00-00:00", True),
    ("2026-11-01T10:00:00+23:59", True),
    ("2024-02-29T00:00:00Z", True),
    ("2000-02-29T00:00:00Z", True),
    ("0001-01-01T00:00:00+01:00", True),
    ("9999-12-31T23:30:00-01:00", True),
    # the lenient forms Python's fromisoformat took
    ("2026-11-01T10:00:00.Z", False),
    ("2026-11-01T10:00:00 Z", False),
    ("2026-11-01T00:00+01:00", False),
    ("2026-11-01T10:00:00+0100", False),
    ("2026-11-01T10:00:00+01", False),
    ("2026-11-01T10:00:00,5Z", False),
    ("2026-W44-7T00:00:00Z", False),
    ("2026-11-01T10:00:00+00:00:30", False),
    # more that RFC 3339 does not allow
    ("2026-11-01T10:00:00", False),
    ("2026-11-01 10:00:00Z", False),
    ("20261101T100000Z", False),
    ("2026-305T10:00:00Z", False),
    ("2026-11-01T10:00Z", False),
    ("2026-11-01T10:00:00.Z", False),
    ("2026-11-01T10:00:00Z\n", False),
    (" 2026-11-01T10:00:00Z", False),
    ("2026-11-01T10:00:00ZZ", False),
    ("+2026-11-01T10:00:00Z", False),
    ("12026-11-01T10:00:00Z", False),
    ("2026-1-01T10:00:00Z", False),
    ("2026-11-01T24:00:00Z", False),
    ("2026-11-01T23:60:00Z", False),
    ("2026-12-31T23:59:60Z", False),  # leap seconds: not representable, refused
    ("2026-11-01T10:00:00+24:00", False),
    ("2026-11-01T10:00:00+01:60", False),
    ("2026-00-01T10:00:00Z", False),
    ("2026-13-01T10:00:00Z", False),
    ("2026-11-00T10:00:00Z", False),
    ("2026-11-31T10:00:00Z", False),
    ("2026-02-29T10:00:00Z", False),
    ("1900-02-29T10:00:00Z", False),
    ("0000-01-01T00:00:00Z", False),
    ("\uff12\uff10\uff12\uff16-11-01T10:00:00Z", False),  # fullwidth digits
    ("2026-11-01T1\u0660:00:00Z", False),  # an Arabic-Indic digit
    ("2026-11-01T10:00:00UTC", False),
    ("2026-11-01T10:00:00+01:00[Europe/Paris]", False),
    ("", False),
]


def _schema_accepts(text: str) -> bool:
    event = {"event_id": "e", "contact_id": "c", "type": "t", "timestamp": text}
    return validator(CONTACT_EVENT).is_valid(event)


def _engine_accepts(text: str) -> bool:
    try:
        parse_ts(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(("text", "valid"), GRAMMAR)
def test_engine_and_schema_agree(text: str, valid: bool) -> None:
    assert _engine_accepts(text) is valid
    assert _schema_accepts(text) is valid


@given(
    st.from_regex(TIMESTAMP_PATTERN.removesuffix("(?!\\n)"), fullmatch=True)
    | st.text(alphabet="0123456789-:+.TtZz ", max_size=32)
)
@profile()
def test_engine_and_schema_agree_on_anything_shaped_like_a_timestamp(text: str) -> None:
    assert _engine_accepts(text) is _schema_accepts(text)


def test_every_schema_uses_the_engine_grammar() -> None:
    """One grammar: the schemas' timestamp patterns are timefmt's, character for character."""
    assert load_schema(CONTACT_EVENT)["properties"]["timestamp"]["pattern"] == TIMESTAMP_PATTERN
    assert load_schema(DEAD_LETTER)["properties"]["at"]["pattern"] == TIMESTAMP_PATTERN
    assert load_schema(SEGMENT_CHANGE)["properties"]["at"]["pattern"] == TIMESTAMP_PATTERN
