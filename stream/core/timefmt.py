"""RFC 3339 instants as integer microseconds since the Unix epoch, and back."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECOND = 1_000_000
DAY = 86_400 * SECOND

# The grammar of schemas/*.schema.json `timestamp` and `at`, the one source of truth for both
# (a test holds the schemas to it): RFC 3339 date-time with a zone, each field in its range.
# Only the days of a month are left to the calendar. `$(?!\n)`: Python's `$` would also match
# before a final newline, which JSON Schema's (ECMA 262) `$` does not.
TIMESTAMP_PATTERN = (
    "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    "[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]([.][0-9]+)?"
    "([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$(?!\\n)"
)
# The same pattern with its groups made non-capturing (every `(` in it opens a group), which
# matches a little faster: nothing reads the groups.
_TIMESTAMP = re.compile(re.sub(r"\((?!\?)", "(?:", TIMESTAMP_PATTERN))


def parse_ts(text: str) -> int:
    """Parse an RFC 3339 timestamp with a time zone; raise ValueError otherwise.

    Exactly TIMESTAMP_PATTERN on a real calendar day; fraction digits beyond microseconds
    are dropped.
    """
    if _TIMESTAMP.match(text) is None:
        raise ValueError(
            f"not an RFC 3339 date-time with a time zone: {text[:64]!r}; "
            "write e.g. 2026-11-20T10:00:00Z or 2026-11-20T11:00:00+01:00"
        )
    # The pattern has checked the shape; fromisoformat reads it and knows the calendar.
    try:
        upper = text if text[10] == "T" and text[-1] != "z" else text.upper()
        parsed = datetime.fromisoformat(upper)
    except ValueError:
        raise ValueError(f"no such day: {text[:10]!r}") from None
    # Faster than `(parsed - EPOCH) // timedelta(microseconds=1)`, and as exact.
    since = parsed - EPOCH
    return (since.days * 86_400 + since.seconds) * SECOND + since.microseconds


# The Gregorian calendar repeats every 400 years, which lets format_ts write any instant,
# also the few that parse_ts accepts beyond the years datetime knows (0001-01-01 with a
# positive offset, 9999-12-31 with a negative one).
_CYCLE_DAYS = 146_097
_CYCLE_YEARS = 400


@lru_cache(maxsize=512)
def _day_prefix(day: int) -> str:
    cycles, rest = divmod(day, _CYCLE_DAYS)
    date_ = EPOCH + timedelta(days=rest)
    year = date_.year + cycles * _CYCLE_YEARS
    # Not strftime("%Y"): it drops the leading zeros of years before 1000.
    return f"{year:04d}-{date_.month:02d}-{date_.day:02d}T"


# Ready-made pieces: a change message formats its instant, and string formatting with
# width specs costs several times more than joining these.
_TWO_DIGITS = [f"{i:02d}" for i in range(60)]
_MILLIS = ["Z"] + [f".{i:03d}Z" for i in range(1, 1000)]


def format_ts(us: int) -> str:
    """Format microseconds as RFC 3339 UTC with `Z`; fractions only when non-zero.

    Never raises: years outside 0001-9999 come out with as many digits as they need.
    """
    day, rest = divmod(us, DAY)
    seconds, fraction = divmod(rest, SECOND)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    tail = _MILLIS[fraction // 1000] if fraction % 1000 == 0 else f".{fraction:06d}Z"
    two = _TWO_DIGITS
    return _day_prefix(day) + two[hours] + ":" + two[minutes] + ":" + two[seconds] + tail
