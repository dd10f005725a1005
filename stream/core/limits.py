"""Bounds on what one input message may hold, so that no single message can break a worker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stream.core.timefmt import SECOND

# 1970-01-01T00:00:00Z and 3000-01-01T00:00:00Z: years 1970 to 2999.
YEAR_1970_US = 0
YEAR_3000_US = 32_503_680_000 * SECOND
# The widest range a limit may allow: years 0001 to 9999 in UTC, what RFC 3339 can write.
YEAR_1_US = -62_135_596_800 * SECOND
YEAR_10000_US = 253_402_300_800 * SECOND
# Containers inside traits or properties sit about five levels below the top of a contact's
# encoded state, and orjson refuses to encode more than 255 levels; Python's recursion
# (distinct keys, type-aware equality) has about 1000. Far below both.
MAX_DEPTH = 64


def _limit(default: Any, doc: str) -> Any:
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True, slots=True)
class Limits:
    """Every bound on one input message; a message beyond one is invalid input.

    Each field's `metadata["doc"]` is its one-line description, for settings that expose it.
    """

    event_id_chars: int = _limit(256, "Longest event id, in characters.")
    contact_id_chars: int = _limit(256, "Longest contact id, in characters (the contract's 256).")
    text_chars: int = _limit(
        4096, "Longest string in traits or properties (keys too) and longest event type."
    )
    depth: int = _limit(16, "Deepest nesting of objects and lists in traits or in properties.")
    values: int = _limit(
        1000, "Most values (members and list items, at every depth) in traits or in properties."
    )
    number_magnitude: float = _limit(
        1e100, "Largest absolute value of a number; sums of any count of them stay finite."
    )
    earliest_us: int = _limit(YEAR_1970_US, "Earliest event timestamp, microseconds (1970).")
    latest_us: int = _limit(YEAR_3000_US, "Event timestamps must be before this (year 3000).")
    match_chars: int = _limit(
        4096, "Longest text a `matches` condition searches; a longer value does not match."
    )

    def __post_init__(self) -> None:
        for name in ("event_id_chars", "contact_id_chars", "text_chars", "values", "match_chars"):
            if getattr(self, name) < 1:
                raise ValueError(f"limit {name} must be at least 1, got {getattr(self, name)}")
        if not 1 <= self.depth <= MAX_DEPTH:
            raise ValueError(f"limit depth must be 1 to {MAX_DEPTH}, got {self.depth}")
        # 2**63 sums of numbers this large still fit in a float (about 1.8e308).
        if not 0 < self.number_magnitude <= 1e289:
            raise ValueError(
                f"limit number_magnitude must be in (0, 1e289], got {self.number_magnitude}"
            )
        if not YEAR_1_US <= self.earliest_us < self.latest_us <= YEAR_10000_US:
            raise ValueError(
                "limits earliest_us < latest_us must lie within the years 0001 to 9999, got "
                f"{self.earliest_us} and {self.latest_us}"
            )


DEFAULT_LIMITS = Limits()
