"""Which segments a history too short for their windows may undercount, and why."""

from __future__ import annotations

from typing import NamedTuple

from stream.core.definitions import windows
from stream.core.language.ast import RuleSet
from stream.core.language.durations import format_duration

_DAY = 86_400_000_000  # microseconds


class History(NamedTuple):
    """The event times a history spans (microseconds; None when it holds no event), and
    whether retention has removed its oldest messages (an earliest offset above 0)."""

    first: int | None
    last: int | None
    truncated: bool = False


def undercounted(rules: RuleSet, history: History) -> dict[str, str]:
    """Segment id -> why its memberships may be undercounted, in the rules' order.

    A segment may be undercounted when a window it reads (its own, a tested segment's, or a
    tested score's) is longer than the history's span, or when it counts over all time and
    retention has cut the history. An empty history names nothing.
    """
    out: dict[str, str] = {}
    if history.first is None or history.last is None:
        return out
    span = history.last - history.first
    for segment in rules.segments:
        reach = windows(rules, segment.id)
        if history.truncated and None in reach:
            out[segment.id] = "counts over all time, and retention has cut the history"
            continue
        longest = max((w for w in reach if w is not None), default=0)
        if longest > span:
            out[segment.id] = (
                f"a window of {format_duration(longest)} is longer than the history "
                f"({span / _DAY:.1f} days)"
            )
    return out
