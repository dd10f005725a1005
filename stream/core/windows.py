"""Window and aggregate arithmetic: plain functions over sorted (timestamp, value) entries.

A window `W` at `now` holds the entries with ``now - W < t <= now``; an entry at `t` leaves
it at exactly ``t + W``.
"""

from __future__ import annotations

import math
from bisect import bisect_right, insort
from collections.abc import Callable
from typing import Any

from stream.core.values import MISSING

Entry = tuple[int, Any]
Aggregator = Callable[[list[Entry]], Any]


def _first(entry: Entry) -> int:
    return entry[0]


def in_window(t: int, now: int, within: int) -> bool:
    """Whether an event at `t` counts in a `within` window at `now`."""
    return now - within < t <= now


def expires_at(t: int, within: int) -> int:
    """The instant an event at `t` leaves a `within` window."""
    return t + within


def prune(entries: list[Entry], now: int, within: int) -> None:
    """Drop the entries that are out of the window at `now` (they never count again)."""
    if entries and entries[0][0] <= now - within:
        del entries[: bisect_right(entries, now - within, key=_first)]


def insert(entries: list[Entry], t: int, value: Any) -> None:
    """Place an entry by its timestamp; a late entry lands in the middle."""
    if not entries or entries[-1][0] <= t:
        entries.append((t, value))
    else:
        insort(entries, (t, value), key=_first)


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
    return math.fsum(v for _, v in entries)


def agg_avg(entries: list[Entry]) -> Any:
    return math.fsum(v for _, v in entries) / len(entries) if entries else MISSING


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


def next_change(
    entries: list[Entry],
    now: int,
    within: int,
    aggregate: Aggregator,
    test: Callable[[Any], bool],
) -> int | None:
    """The first instant after `now` at which `test(aggregate(window))` flips, with no new entry.

    `entries` must already be pruned to the window at `now`. None when it never flips.
    """
    holds = test(aggregate(entries))
    if aggregate is agg_count:
        size = len(entries)
        for i, (t, _) in enumerate(entries):
            # After the entry at i expires, size - i - 1 remain (equal timestamps go together).
            if i + 1 < size and entries[i + 1][0] == t:
                continue
            if test(size - i - 1) != holds:
                return t + within
        return None
    for i, (t, _) in enumerate(entries):
        if i + 1 < len(entries) and entries[i + 1][0] == t:
            continue
        if test(aggregate(entries[i + 1 :])) != holds:
            return t + within
    return None


# --- all-time accumulators: the same aggregates without a window -------------------------


def msum_add(partials: list[float], x: float) -> None:
    """Add `x` to Shewchuk partials so that ``math.fsum(partials)`` is the exact running sum."""
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
