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
    return (EPOCH + timedelta(days=day)).strftime("%Y-%m-%dT")


def format_ts(us: int) -> str:
    """Format microseconds as RFC 3339 UTC with `Z`; fractions only when non-zero."""
    day, rest = divmod(us, DAY)
    seconds, fraction = divmod(rest, SECOND)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    base = f"{_day_prefix(day)}{hours:02d}:{minutes:02d}:{seconds:02d}"
    if fraction == 0:
        return base + "Z"
    if fraction % 1000 == 0:
        return f"{base}.{fraction // 1000:03d}Z"
    return f"{base}.{fraction:06d}Z"
