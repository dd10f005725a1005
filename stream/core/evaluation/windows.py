"""Window and aggregate arithmetic: plain functions over sorted (timestamp, value) entries.

A window `W` at `now` holds the entries with ``now - W < t <= now``; an entry at `t` leaves
it at exactly ``t + W``.
"""

from __future__ import annotations

import math
from bisect import bisect_right, insort
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from stream.core.evaluation.values import MISSING

Entry = tuple[int, Any]
Aggregator = Callable[[list[Entry]], Any]


def _first(entry: Entry) -> int:
    return entry[0]


def prune(entries: list[Entry], now: int, within: int) -> None:
    """Drop the entries that are out of the window at `now` (they never count again)."""
    if isinstance(entries, SumWindow):
        entries.prune(now, within)
    elif entries and entries[0][0] <= now - within:
        del entries[: bisect_right(entries, now - within, key=_first)]


def insert(entries: list[Entry], t: int, value: Any) -> None:
    """Place an entry by its timestamp; a late entry lands in the middle."""
    if not entries or entries[-1][0] <= t:
        entries.append((t, value))
    else:
        insort(entries, (t, value), key=_first)


class SumWindow(list[Entry]):
    """Window entries plus the exact running sum of their values, kept as Shewchuk partials,
    so that a sum or average over a long window costs no scan."""

    __slots__ = ("floats", "ints", "negatives", "partials")

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        super().__init__(entries)
        self.partials: list[float] = []  # kept only while `floats`: int sums are exact
        self.floats = 0  # how many values are not ints; with none, plain int sums are exact
        self.ints = 0  # the sum of the int values
        self.negatives = 0  # how many values are below zero
        for _, v in self:
            if type(v) is int:
                self.ints += v
            else:
                self.floats += 1
            if v < 0:
                self.negatives += 1
        if self.floats:
            self._rebuild_partials()

    def _rebuild_partials(self) -> None:
        self.partials = []
        for _, v in self:
            msum_add(self.partials, float(v))

    def _count(self, value: Any, sign: int) -> None:
        """Account for `value` entering (sign 1, already in the list) or leaving (sign -1)."""
        if type(value) is int:
            self.ints += sign * value
            if self.floats:
                msum_add(self.partials, sign * float(value))
        elif self.floats or sign < 0:
            msum_add(self.partials, sign * float(value))
            self.floats += sign
        else:  # the first float: start the partials, from every value now in the window
            self.floats = 1
            self._rebuild_partials()
        if value < 0:
            self.negatives += sign

    def add(self, t: int, value: Any) -> None:
        insert(self, t, value)
        self._count(value, 1)

    def prune(self, now: int, within: int) -> None:
        if self and self[0][0] <= now - within:
            cut = bisect_right(self, now - within, key=_first)
            for _, v in self[:cut]:
                self._count(v, -1)
            del self[:cut]
            if not self:
                self.partials.clear()

    def total(self) -> float:
        return math.fsum(self.partials) if self.floats else self.ints


def insert_latest(entries: list[Entry], t: int, value: Any) -> None:
    """Insert keeping one entry per value, the newest: a distinct count needs no more."""
    for i, (seen_t, seen) in enumerate(entries):
        if seen == value:
            if seen_t >= t:
                return
            del entries[i]
            break
    insert(entries, t, value)


def agg_count(entries: list[Entry]) -> Any:
    return len(entries)


def agg_sum(entries: list[Entry]) -> Any:
    if isinstance(entries, SumWindow):
        return entries.total()
    if not entries:
        return 0  # as an empty SumWindow says
    return math.fsum(v for _, v in entries)


def agg_avg(entries: list[Entry]) -> Any:
    return agg_sum(entries) / len(entries) if entries else MISSING


def agg_min(entries: list[Entry]) -> Any:
    return min(v for _, v in entries) if entries else MISSING


def agg_max(entries: list[Entry]) -> Any:
    return max(v for _, v in entries) if entries else MISSING


def agg_distinct(entries: list[Entry]) -> Any:
    return len({v for _, v in entries})


AGGREGATORS: dict[str, Aggregator] = {
    "count": agg_count,
    "sum": agg_sum,
    "avg": agg_avg,
    "min": agg_min,
    "max": agg_max,
    "distinct": agg_distinct,
}


# How many expiry instants a deadline search looks at before it settles for a checkpoint:
# an instant at which the engine looks again. Keeps each search short on long windows.
SCAN_LIMIT = 8


def next_change(
    entries: list[Entry],
    now: int,
    within: int,
    kind: str,
    test: Callable[[Any], bool],
    holds: bool | None = None,
) -> int | None:
    """The first instant after `now` at which `test(aggregate(window))` may flip by time alone.

    `entries` must already be pruned to the window at `now`, and `holds` is the test's value
    there. None when it never flips. After SCAN_LIMIT expiry instants without a flip,
    returns the next expiry instant as a checkpoint (the value may or may not flip there;
    the caller checks).
    """
    if holds is None:
        holds = test(AGGREGATORS[kind](entries))
    if kind in ("count", "distinct"):
        return _next_count_change(entries, within, test, holds)
    if kind in ("sum", "avg") and isinstance(entries, SumWindow) and not entries.floats:
        return _next_int_sum_change(entries, within, test, holds, kind == "avg")
    for seen, (instant, remaining) in enumerate(_after_each_expiry(entries, within, kind)):
        if seen == SCAN_LIMIT or test(remaining) != holds:
            return instant
    return None


def _next_count_change(
    entries: list[Entry], within: int, test: Callable[[Any], bool], holds: bool
) -> int | None:
    """`next_change` for counts (distinct feeds hold one entry per value), without the
    generator: the search runs after most events, and this is most of its cost."""
    size = len(entries)
    seen = 0
    for i in range(size):
        t = entries[i][0]
        if i + 1 < size and entries[i + 1][0] == t:
            continue  # equal timestamps leave together
        if seen == SCAN_LIMIT or test(size - 1 - i) != holds:
            return t + within
        seen += 1
    return None


def _next_int_sum_change(
    entries: SumWindow, within: int, test: Callable[[Any], bool], holds: bool, average: bool
) -> int | None:
    """`next_change` for a sum or average of ints, as `_next_count_change`."""
    size = len(entries)
    total = entries.ints
    seen = 0
    for i in range(size):
        t, v = entries[i]
        total -= v
        if i + 1 < size and entries[i + 1][0] == t:
            continue
        left = size - 1 - i
        remaining = total if not average else (total / left if left else MISSING)
        if seen == SCAN_LIMIT or test(remaining) != holds:
            return t + within
        seen += 1
    return None


def _after_each_expiry(entries: list[Entry], within: int, kind: str) -> Iterator[tuple[int, Any]]:
    """(instant, aggregate of the entries left) each time entries leave, oldest first."""
    size = len(entries)
    if kind in ("count", "distinct"):  # distinct feeds hold one entry per value
        values: Iterator[Any] = iter(range(size - 1, -1, -1))
    elif kind in ("sum", "avg"):
        values = _running_sums(entries, kind == "avg")
    else:
        values = iter(_suffix_extremes(entries, min if kind == "min" else max))
    for i, (t, _) in enumerate(entries):
        remaining = next(values)
        if i + 1 < size and entries[i + 1][0] == t:
            continue  # equal timestamps leave together
        yield t + within, remaining


def _running_sums(entries: list[Entry], average: bool) -> Iterator[Any]:
    if isinstance(entries, SumWindow) and entries.floats:
        partials = list(entries.partials)
    else:
        partials = []
        for _, v in entries:
            msum_add(partials, float(v))
    left = len(entries)
    for _, v in entries:
        msum_add(partials, -float(v))
        left -= 1
        total = math.fsum(partials)
        if not average:
            yield total
        else:
            yield total / left if left else MISSING


def _suffix_extremes(entries: list[Entry], pick: Callable[[Any, Any], Any]) -> list[Any]:
    """For each i, the extreme of entries after i (MISSING after the last)."""
    out: list[Any] = [MISSING] * len(entries)
    best: Any = MISSING
    for i in range(len(entries) - 1, -1, -1):
        out[i] = best
        v = entries[i][1]
        best = v if best is MISSING else pick(best, v)
    return out


# --- all-time accumulators: the same aggregates without a window -------------------------


def msum_add(partials: list[float], x: float) -> None:
    """Add `x` to Shewchuk partials so that ``math.fsum(partials)`` is the exact running sum.

    The partials and every intermediate stay finite while the sum of the magnitudes of all
    values ever added does; beyond that they turn into inf and nan, and fsum raises. Hence the
    bounds on numbers in events (limits.Limits.number_magnitude, at most 1e289) and on score
    points (1e100): even 2**63 of them sum to less than the largest float.
    """
    i = 0
    for y in partials:
        if abs(x) < abs(y):
            x, y = y, x
        hi = x + y
        lo = y - (hi - x)
        if lo:
            partials[i] = lo
            i += 1
        x = hi
    partials[i:] = [x]
