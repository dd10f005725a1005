"""Durations of rules and settings (`90s`, `15m`, `36h`, `30d`, `2w`, `50ms`) in microseconds."""

from __future__ import annotations

import re
from dataclasses import dataclass

SECOND = 1_000_000
UNITS: dict[str, int] = {
    "ms": SECOND // 1000,
    "s": SECOND,
    "m": 60 * SECOND,
    "h": 3600 * SECOND,
    "d": 86_400 * SECOND,
    "w": 604_800 * SECOND,
}
_EXAMPLES = {"ms": "50ms", "s": "90s", "m": "15m", "h": "36h", "d": "30d", "w": "2w"}
# The schema's pattern for a rule's duration; an integer then one unit, nothing else (no sign,
# fraction or space).
PATTERN = "^[0-9]+[smhdw]$"
_SHAPE = re.compile(r"([0-9]+)(ms|[smhdw])")
# Longer durations are almost certainly typos, and a window's deadlines would leave the
# calendar; "all time" is written by leaving `within` out.
MAX_DAYS = 36_525
MAX_DURATION = MAX_DAYS * UNITS["d"]


class DurationError(ValueError):
    """A duration that is not a `<integer><unit>` its place accepts, or over 100 years."""


@dataclass(frozen=True, slots=True)
class Use:
    """Where a duration is written: the units it accepts, whether zero means anything there,
    and what to tell a writer whose duration is out of range."""

    units: tuple[str, ...]
    zero: bool
    hint: str


# A rule's window, exactly as spec/rules.md has it.
WINDOW = Use(("s", "m", "h", "d", "w"), zero=False, hint="; leave `within` out for all time")
# A setting: a batch waits milliseconds, and zero is a tolerance or a wait that is turned off.
SETTING = Use(("ms", "s", "m", "h", "d", "w"), zero=True, hint="")


def is_duration_shape(value: object, use: Use = WINDOW) -> bool:
    """True when `value` is a string shaped like a duration (its size is not checked)."""
    if not isinstance(value, str):
        return False
    match = _SHAPE.fullmatch(value)
    return match is not None and match.group(2) in use.units


def parse_duration(text: str, use: Use = WINDOW) -> int:
    """Parse `text` such as ``30d`` into microseconds; raise DurationError saying how to fix it."""
    if not is_duration_shape(text, use):
        *most, last = use.units
        examples = ", ".join(_EXAMPLES[unit] for unit in use.units)
        raise DurationError(
            f"invalid duration {text!r}: write a whole number and one unit of "
            f"{', '.join(most)} or {last}, e.g. {examples}"
        )
    unit = "ms" if text.endswith("ms") else text[-1]
    digits = text[: -len(unit)].lstrip("0") or "0"
    # int() refuses thousands of digits, and 19 or more are over the limit anyway.
    micros = int(digits) * UNITS[unit] if len(digits) < 19 else MAX_DURATION + 1
    if micros == 0 and not use.zero:
        raise DurationError(
            f"duration {text!r} is zero: a window must be longer than that{use.hint}"
        )
    if micros > MAX_DURATION:
        raise DurationError(f"duration {text!r} is longer than 100 years ({MAX_DAYS}d){use.hint}")
    return micros


def format_duration(micros: int, use: Use = SETTING) -> str:
    """Write `micros` in the largest unit of `use` that divides it exactly."""
    if micros == 0:
        return "0s"
    for unit in sorted(use.units, key=UNITS.__getitem__, reverse=True):
        if micros > 0 and micros % UNITS[unit] == 0:
            return f"{micros // UNITS[unit]}{unit}"
    raise DurationError(f"{micros} microseconds cannot be written as a duration")
