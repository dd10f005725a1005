"""What commands say on standard error about what they did: skipped lines, counts, rates."""

from __future__ import annotations

import sys
from collections import Counter

from stream.errors import InvalidInput


def printable(text: str) -> str:
    """`text` with what is not printable (line breaks, controls) escaped: one report, one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def plural(count: int, noun: str) -> str:
    """`count` with thousands separators and `noun`, with an s unless it is one."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


class Skipped:
    """Invalid input lines: each reported on standard error as it comes, counted by reason."""

    def __init__(self) -> None:
        self.reasons: Counter[str] = Counter()

    def __call__(self, number: int, error: InvalidInput) -> None:
        self.reasons[error.reason] += 1
        sys.stderr.write(f"line {number}: {error.reason}: {printable(error.detail)}\n")

    @property
    def total(self) -> int:
        return self.reasons.total()

    def summary(self) -> str:
        """`0 skipped`, or `5 skipped (not_json 3, missing_field 2)`, the most common first."""
        if not self.reasons:
            return "0 skipped"
        by_reason = ", ".join(f"{reason} {n:,}" for reason, n in self.reasons.most_common())
        return f"{self.total:,} skipped ({by_reason})"
