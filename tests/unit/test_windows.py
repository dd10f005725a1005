"""Window boundaries and the instant a windowed test flips, table-driven."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stream.core.evaluation import windows
from stream.core.evaluation.feeds import Feed
from stream.core.evaluation.values import MISSING

D = 86_400_000_000  # one day in microseconds
W = 7 * D


@pytest.mark.parametrize(
    ("t", "now", "inside"),
    [
        (0, 0, True),  # an event at now counts
        (0, W - 1, True),
        (0, W, False),  # exactly W old is out
        (-W + 1, 0, True),
        (-W, 0, False),
    ],
)
def test_window_membership(t: int, now: int, inside: bool) -> None:
    """`now - W < t <= now`, for an event that arrives late and for one that ages out.

    No window holds an event later than `now`, since the engine first moves its clock to
    each event's time; the oracle, which can be asked about any instant, is checked on that
    case in `test_oracle.test_window_boundary`.
    """
    feed = Feed("views", "count", W, {})
    late = feed.add(feed.empty(), t, None, now)
    assert (feed.value(late, now) == 1) is inside
    aged: list[tuple[int, Any]] = [(t, None)]
    windows.prune(aged, now, W)
    assert (len(aged) == 1) is inside


def test_prune_drops_exactly_the_expired_prefix() -> None:
    entries: list[tuple[int, Any]] = [(0, None), (D, None), (2 * D, None)]
    windows.prune(entries, W + D, W)
    assert entries == [(2 * D, None)]


def test_insert_places_late_entries_by_time() -> None:
    entries: list[tuple[int, Any]] = [(0, "a"), (2 * D, "c")]
    windows.insert(entries, D, "b")
    windows.insert(entries, 3 * D, "d")
    assert [v for _, v in entries] == ["a", "b", "c", "d"]


def at_least(n: int) -> Any:
    return lambda v: v >= n


@pytest.mark.parametrize(
    ("times", "now", "test", "expected"),
    [
        # three views: leaves "3 in 7 days" when the third-newest (oldest) expires
        ([0, D, 2 * D], 2 * D, at_least(3), W),
        # four views: leaves when the second-oldest expires
        ([0, D, 2 * D, 3 * D], 3 * D, at_least(3), D + W),
        # two views, below threshold: never flips back by time alone
        ([0, D], D, at_least(3), None),
        # inactivity: "count >= 1" stops holding when the newest expires
        ([0, 5 * D], 5 * D, at_least(1), 5 * D + W),
        # equal timestamps expire together
        ([0, 0, D], D, at_least(2), W),
        ([], 0, at_least(1), None),
    ],
)
def test_next_change_for_counts(
    times: list[int], now: int, test: Any, expected: int | None
) -> None:
    entries = [(t, None) for t in times]
    assert windows.next_change(entries, now, W, "count", test) == expected


def test_next_change_for_sums_finds_the_first_flip() -> None:
    entries = [(0, 6000.0), (D, 3000.0), (2 * D, 2000.0)]
    # 11000 now; drops to 5000 when the first expires
    assert windows.next_change(entries, 2 * D, W, "sum", at_least(10_000)) == W
    # "sum < 4000" turns true only when the second one has gone too
    below = windows.next_change(entries, 2 * D, W, "sum", lambda v: v < 4000)
    assert below == D + W


def test_msum_is_exact_in_any_order() -> None:
    values = [0.1] * 10 + [1e16, 1.0, -1e16]
    partials: list[float] = []
    for v in values:
        windows.msum_add(partials, v)
    import math

    assert math.fsum(partials) == math.fsum(values)


@pytest.mark.parametrize(
    ("inserts", "expected"),
    [
        ([(0, "a"), (D, "b"), (2 * D, "a")], [(D, "b"), (2 * D, "a")]),  # newer "a" replaces
        ([(2 * D, "a"), (D, "a")], [(2 * D, "a")]),  # a late older "a" adds nothing
        ([(0, "a"), (D, "b")], [(0, "a"), (D, "b")]),
    ],
)
def test_insert_latest_keeps_the_newest_entry_per_value(
    inserts: list[tuple[int, str]], expected: list[tuple[int, str]]
) -> None:
    entries: list[tuple[int, Any]] = []
    for t, v in inserts:
        windows.insert_latest(entries, t, v)
    assert entries == expected


def brute_next_change(entries: list[tuple[int, Any]], now: int, kind: str, test: Any) -> Any:
    """Evaluate the window at every later instant an entry leaves; the first flip wins."""
    aggregate = windows.AGGREGATORS[kind]
    holds = test(aggregate(entries))
    for instant in sorted({t + W for t, _ in entries}):
        if instant > now and test(aggregate([e for e in entries if e[0] > instant - W])) != holds:
            return instant
    return None


@given(
    times=st.lists(st.integers(0, 6), min_size=0, max_size=8),
    values=st.lists(st.integers(-3, 5), min_size=8, max_size=8),
    kind=st.sampled_from(["count", "sum", "avg", "min", "max"]),
    threshold=st.integers(-4, 8),
)
def test_next_change_equals_brute_force(
    times: list[int], values: list[int], kind: str, threshold: int
) -> None:
    entries = sorted((t * D, float(v)) for t, v in zip(times, values, strict=False))
    now = 6 * D
    test = lambda v: v is not MISSING and v >= threshold  # noqa: E731
    expected = brute_next_change(entries, now, kind, test)
    assert windows.next_change(list(entries), now, W, kind, test) == expected
