"""RFC 3339 instants as integer microseconds since the Unix epoch, and back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECOND = 1_000_000
_ONE_US = timedelta(microseconds=1)


def parse_ts(text: str) -> int:
    """Parse an RFC 3339 timestamp with a time zone; raise ValueError otherwise."""
    if len(text) < 20 or text[10] not in "Tt":
        raise ValueError(f"not an RFC 3339 date-time: {text!r}")
    parsed = datetime.fromisoformat(text.upper() if text[10] == "t" or text[-1] == "z" else text)
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp has no time zone: {text!r}")
    return (parsed - EPOCH) // _ONE_US


DAY = 86_400 * SECOND


@lru_cache(maxsize=512)
def _day_prefix(day: int) -> str:
    date = EPOCH + timedelta(days=day)
    # Not strftime("%Y"): it drops the leading zeros of years before 1000.
    return f"{date.year:04d}-{date.month:02d}-{date.day:02d}T"


# Ready-made pieces: a change message formats its instant, and string formatting with
# width specs costs several times more than joining these.
_TWO_DIGITS = [f"{i:02d}" for i in range(60)]
_MILLIS = ["Z"] + [f".{i:03d}Z" for i in range(1, 1000)]


def format_ts(us: int) -> str:
    """Format microseconds as RFC 3339 UTC with `Z`; fractions only when non-zero."""
    day, rest = divmod(us, DAY)
    seconds, fraction = divmod(rest, SECOND)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    tail = _MILLIS[fraction // 1000] if fraction % 1000 == 0 else f".{fraction:06d}Z"
    two = _TWO_DIGITS
    return _day_prefix(day) + two[hours] + ":" + two[minutes] + ":" + two[seconds] + tail
