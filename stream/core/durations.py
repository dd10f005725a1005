"""Durations in definition files (`90s`, `15m`, `36h`, `30d`, `2w`) as integer microseconds."""

from __future__ import annotations

import re

SECOND = 1_000_000
UNITS: dict[str, int] = {
    "s": SECOND,
    "m": 60 * SECOND,
    "h": 3600 * SECOND,
    "d": 86_400 * SECOND,
    "w": 604_800 * SECOND,
}
# The schema's pattern; an integer then one unit, nothing else (no sign, fraction or space).
PATTERN = "^[0-9]+[smhdw]$"
_SHAPE = re.compile(r"[0-9]+[smhdw]")
# Longer windows are almost certainly typos, and their deadlines would leave the calendar;
# "all time" is written by leaving `within` out.
MAX_DAYS = 36_525
MAX_DURATION = MAX_DAYS * UNITS["d"]


class DurationError(ValueError):
    """A duration that is not a positive `<integer><unit>` of at most 100 years."""


def is_duration_shape(value: object) -> bool:
    """True when `value` is a string shaped like a duration (its size is not checked)."""
    return isinstance(value, str) and _SHAPE.fullmatch(value) is not None


def parse_duration(text: str) -> int:
    """Parse `text` such as ``30d`` into microseconds; raise DurationError saying how to fix it."""
    if not is_duration_shape(text):
        raise DurationError(
            f"invalid duration {text!r}: write a whole number and one unit of "
            "s, m, h, d or w, e.g. 90s, 15m, 36h, 30d, 2w"
        )
    digits = text[:-1].lstrip("0") or "0"
    # int() refuses thousands of digits, and 19 or more are over the limit anyway.
    micros = int(digits) * UNITS[text[-1]] if len(digits) < 19 else MAX_DURATION + 1
    if micros == 0:
        raise DurationError(
            f"duration {text!r} is zero: a window must be longer than that; "
            "leave `within` out for all time"
        )
    if micros > MAX_DURATION:
        raise DurationError(
            f"duration {text!r} is longer than 100 years ({MAX_DAYS}d); "
            "leave `within` out for all time"
        )
    return micros
