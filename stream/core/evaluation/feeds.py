"""Feeds: the per-contact data one behaviour aggregate or score needs, and nothing more.

A feed is shared by every condition with the same event types, filters, window, aggregate
kind and property. Windowed feeds keep (timestamp, value) entries inside the window; all-time
feeds keep a running accumulator, so state never holds the full event history.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stream.core.evaluation import windows
from stream.core.evaluation.values import (
    MISSING,
    ValueTest,
    compile_test,
    distinct_key,
    is_number,
    resolve,
)
from stream.core.language.ast import Path, PropertyFilter, ScoreRule
from stream.core.limits import DEFAULT_LIMITS, Limits

SKIP: Any = MISSING  # what an extractor returns for an event that does not count

Extractor = Callable[[dict[str, Any]], Any]


def compile_filters(
    where: tuple[PropertyFilter, ...], limits: Limits = DEFAULT_LIMITS
) -> Callable[[dict[str, Any]], bool]:
    """All `where` filters as one test of an event's properties."""
    tests: list[tuple[Path, ValueTest]] = [
        (f.path, compile_test(f.predicate, limits)) for f in where
    ]
    if not tests:
        return lambda props: True
    if len(tests) == 1 and len(tests[0][0]) == 1:
        (key,), test = tests[0]

        def one_property(props: dict[str, Any]) -> bool:
            value = props.get(key)
            return test(MISSING if value is None else value)

        return one_property
    return lambda props: all(test(resolve(props, path)) for path, test in tests)


def behaviour_extractor(
    where: tuple[PropertyFilter, ...],
    kind: str,
    prop: Path | None,
    limits: Limits = DEFAULT_LIMITS,
) -> Extractor:
    """What a behaviour feed records for an event's properties, or SKIP."""
    passes = compile_filters(where, limits)
    if kind == "count":
        return lambda props: None if passes(props) else SKIP
    assert prop is not None
    if kind == "distinct":

        def distinct_value(props: dict[str, Any]) -> Any:
            if not passes(props):
                return SKIP
            value = resolve(props, prop)
            return SKIP if value is MISSING else distinct_key(value)

        return distinct_value

    def numeric_value(props: dict[str, Any]) -> Any:
        if not passes(props):
            return SKIP
        value = resolve(props, prop)
        return value if is_number(value) else SKIP

    return numeric_value


def score_extractor(
    rules: tuple[ScoreRule, ...], event_type: str, limits: Limits = DEFAULT_LIMITS
) -> Extractor:
    """Points of the first rule an event of `event_type` matches, or SKIP."""
    candidates = [
        (compile_filters(r.where, limits), r.points) for r in rules if event_type in r.types
    ]

    def points(props: dict[str, Any]) -> Any:
        for passes, value in candidates:
            if passes(props):
                return value
        return SKIP

    return points


@dataclass(slots=True)
class Feed:
    """A compiled feed. `key` names it stably in serialised state across rule reloads.

    `cap`, for windowed counts, is how many of the newest entries can matter: every test on
    the count reads values at or above the cap alike, and the entries in a window are always
    the newest ones, so older entries are dropped.
    """

    key: str
    kind: str  # count | sum | avg | min | max | distinct
    within: int | None
    extractors: dict[str, Extractor]  # event type -> extractor
    cap: int = 0

    def need_count_up_to(self, operand: float) -> None:
        """Register a count test against `operand`; counts above it look alike to it."""
        self.cap = max(self.cap, math.floor(operand) + 1)

    def empty(self) -> Any:
        """This feed's data for a contact with no events.

        A window starts as the shared empty tuple, which every reader treats as a window
        with no entries; `add` swaps in a list. Most contacts never feed most windows, so
        an empty list per window and contact would cost memory and allocation time for
        nothing.
        """
        if self.within is not None:
            return ()
        return _ALL_TIME_EMPTY[self.kind]()

    @property
    def shared_empty(self) -> bool:
        """Whether `empty()` is immutable, so that every contact may share one."""
        return self.within is not None or self.kind in ("count", "min", "max")

    def add(self, data: Any, t: int, value: Any, now: int) -> Any:
        """Record one counted event at `t` (already <= now); returns the (new) data."""
        if self.within is not None:
            if t <= now - self.within:
                return data
            if type(data) is tuple:  # the shared empty window of `empty()`
                data = windows.SumWindow() if self.kind in ("sum", "avg") else []
            if self.kind == "distinct":
                windows.insert_latest(data, t, value)
                return data
            if isinstance(data, windows.SumWindow):
                data.add(t, value)
                return data
            windows.insert(data, t, value)
            if self.cap and len(data) > self.cap:
                del data[: len(data) - self.cap]
            return data
        kind = self.kind
        if kind == "count":
            return data + 1
        if kind in ("sum", "avg"):
            data[0] += 1
            partials = data[1]
            windows.msum_add(partials, float(value))
            return data
        if kind == "min":
            return value if data is None or value < data else data
        if kind == "max":
            return value if data is None or value > data else data
        data.add(value)
        return data

    def value(self, data: Any, now: int) -> Any:
        """The aggregate at `now` (MISSING for avg/min/max of nothing)."""
        if self.within is not None:
            windows.prune(data, now, self.within)
            return windows.AGGREGATORS[self.kind](data)
        kind = self.kind
        if kind == "count":
            return data
        if kind == "sum":
            return math.fsum(data[1])
        if kind == "avg":
            return math.fsum(data[1]) / data[0] if data[0] else MISSING
        if kind in ("min", "max"):
            return MISSING if data is None else data
        return len(data)

    def next_change(self, data: Any, now: int, test: ValueTest, holds: bool) -> int | None:
        """First instant after `now` at which `test` of this feed's value flips by time alone;
        `holds` is the test's value at `now`."""
        if self.within is None:
            return None
        windows.prune(data, now, self.within)
        return windows.next_change(data, now, self.within, self.kind, test, holds)


def _nothing() -> None:
    return None


_ALL_TIME_EMPTY: dict[str, Callable[[], Any]] = {
    "count": int,
    "sum": lambda: [0, []],
    "avg": lambda: [0, []],
    "min": _nothing,
    "max": _nothing,
    "distinct": set,
}


def feed_key(*parts: object) -> str:
    """A short stable name for a feed definition."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:10]
