"""Durations in definition files: `<whole number><s|m|h|d|w>`, positive, at most 100 years."""

from __future__ import annotations

import pytest

from stream.core.durations import MAX_DURATION, DurationError, is_duration_shape, parse_duration

SECOND = 1_000_000
DAY = 86_400 * SECOND


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("90s", 90 * SECOND),
        ("15m", 15 * 60 * SECOND),
        ("36h", 36 * 3600 * SECOND),
        ("30d", 30 * DAY),
        ("2w", 14 * DAY),
        ("1s", SECOND),
        ("007d", 7 * DAY),  # leading zeros are still a whole number
        ("36525d", MAX_DURATION),  # exactly 100 years is the longest window
        ("5217w", 5217 * 7 * DAY),
    ],
)
def test_valid(text: str, micros: int) -> None:
    assert parse_duration(text) == micros
    assert is_duration_shape(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0d", "duration '0d' is zero"),
        ("0s", "duration '0s' is zero"),
        ("000w", "duration '000w' is zero"),
        ("36526d", r"longer than 100 years \(36525d\)"),
        ("5218w", "longer than 100 years"),
        ("9" * 5000 + "s", "longer than 100 years"),  # beyond what int() parses
    ],
)
def test_well_formed_but_out_of_range(text: str, message: str) -> None:
    """Shaped like a duration (the schema accepts it), but the loader rejects the size."""
    assert is_duration_shape(text)
    with pytest.raises(DurationError, match=message):
        parse_duration(text)


@pytest.mark.parametrize(
    "text",
    ["1.5d", "10", "-1d", "+1d", "10y", "d", "", " 7d", "7d ", "7D", "7 d", "1h30m", "7d\n", "٣d"],
)
def test_malformed(text: str) -> None:
    assert not is_duration_shape(text)
    with pytest.raises(DurationError, match=r"invalid duration .*e\.g\. 90s, 15m, 36h, 30d, 2w"):
        parse_duration(text)


@pytest.mark.parametrize("value", [7, 7.0, None, True, ["7d"]])
def test_non_text_is_not_a_duration(value: object) -> None:
    assert not is_duration_shape(value)
