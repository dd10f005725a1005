"""Durations: `<whole number><unit>` up to 100 years, as rule windows and as settings take them."""

from __future__ import annotations

import re

import pytest

from stream.core.language.durations import (
    MAX_DURATION,
    PATTERN,
    SETTING,
    WINDOW,
    DurationError,
    format_duration,
    is_duration_shape,
    parse_duration,
)

MS = 1_000
SECOND = 1_000_000
DAY = 86_400 * SECOND
WINDOW_RULE = r"invalid duration .*: write a whole number and one unit of s, m, h, d or w, e\.g\. "
SETTING_RULE = r"invalid duration .*: write a whole number and one unit of ms, s, m, h, d or w, "


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


# One grammar, two uses: what each accepts, side by side.
@pytest.mark.parametrize(
    ("text", "window", "setting"),
    [
        ("90s", 90 * SECOND, 90 * SECOND),
        ("2w", 14 * DAY, 14 * DAY),
        ("36525d", MAX_DURATION, MAX_DURATION),
        ("50ms", WINDOW_RULE, 50 * MS),
        ("1500ms", WINDOW_RULE, 1500 * MS),
        ("0ms", WINDOW_RULE, 0),
        ("0s", "duration '0s' is zero: a window must be longer than that; leave `within` out", 0),
        ("36526d", r"longer than 100 years \(36525d\); leave `within` out for all time$", None),
        ("36526d", None, r"^duration '36526d' is longer than 100 years \(36525d\)$"),
        ("1y", WINDOW_RULE, SETTING_RULE),
        ("1.5h", WINDOW_RULE, SETTING_RULE),
        ("5 ms", WINDOW_RULE, SETTING_RULE),
        ("5MS", WINDOW_RULE, SETTING_RULE),
        ("5sm", WINDOW_RULE, SETTING_RULE),
        ("ms", WINDOW_RULE, SETTING_RULE),
        (" 1h", WINDOW_RULE, SETTING_RULE),  # settings strip the variable's blanks themselves
    ],
)
def test_each_use(text: str, window: int | str | None, setting: int | str | None) -> None:
    for use, expected in ((WINDOW, window), (SETTING, setting)):
        if isinstance(expected, int):
            assert parse_duration(text, use) == expected, use
        elif isinstance(expected, str):
            with pytest.raises(DurationError, match=expected):
                parse_duration(text, use)


def test_settings_messages_offer_milliseconds() -> None:
    with pytest.raises(DurationError) as info:
        parse_duration("soon", SETTING)
    assert str(info.value) == (
        "invalid duration 'soon': write a whole number and one unit of ms, s, m, h, d or w, "
        "e.g. 50ms, 90s, 15m, 36h, 30d, 2w"
    )


@pytest.mark.parametrize(
    "text", ["1s", "90s", "2w", "500ms", "5ms", "1h30m", "1.5d", "0d", "7 d", "٣d", "", "ms"]
)
def test_the_schema_pattern_is_the_window_shape(text: str) -> None:
    assert (re.fullmatch(PATTERN, text) is not None) == is_duration_shape(text, WINDOW)


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (50 * MS, "50ms"),
        (1500 * MS, "1500ms"),
        (90 * SECOND, "90s"),
        (3600 * SECOND, "1h"),
        (DAY, "1d"),
        (14 * DAY, "2w"),
        (0, "0s"),
    ],
)
def test_format_writes_the_largest_exact_unit(micros: int, text: str) -> None:
    assert format_duration(micros) == text
    assert parse_duration(text, SETTING) == micros


@pytest.mark.parametrize("micros", [1, 1500, -SECOND])
def test_format_refuses_what_no_unit_writes(micros: int) -> None:
    with pytest.raises(DurationError, match="cannot be written as a duration"):
        format_duration(micros)


def test_a_use_without_milliseconds_formats_in_its_own_units() -> None:
    assert format_duration(7 * DAY, WINDOW) == "1w"
    with pytest.raises(DurationError):
        format_duration(50 * MS, WINDOW)
