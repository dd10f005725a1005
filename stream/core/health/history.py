"""Sizes, entries, exits and flaps over time, and the lifecycle funnel, summed over partitions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

MINUTE_US = 60 * 1_000_000
HOUR_US = 60 * MINUTE_US
# Where the materialiser's apply step (lua/apply.lua) keeps each resolution, and for how long.
RESOLUTIONS = {"minute": ("hm", MINUTE_US, 1440), "hour": ("hh", HOUR_US, 840)}
FLAP_US = HOUR_US  # an exit within this long of the entry is a flap (FLAP_US in apply.lua)


@dataclass(frozen=True, slots=True)
class PartitionHistory:
    """One partition's stored history: current sizes, all-time entries, stages, buckets."""

    sizes: dict[str, int] = field(default_factory=dict)
    entered_ever: dict[str, int] = field(default_factory=dict)
    stages: dict[str, int] = field(default_factory=dict)
    moves: dict[tuple[str, str], int] = field(default_factory=dict)  # ("" = no stage)
    buckets: dict[int, dict[str, int]] = field(default_factory=dict)  # start index -> fields


@dataclass(frozen=True, slots=True)
class Series:
    """One segment's figures per bucket, oldest first; `size` at the end of each bucket."""

    size: tuple[int, ...]
    entered: tuple[int, ...]
    exited: tuple[int, ...]
    flapped: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class History:
    """Every segment's series over the same buckets, the stage counts and moves."""

    width_us: int
    starts: tuple[int, ...]  # bucket starts, microseconds since the epoch
    series: dict[str, Series]
    entered_ever: dict[str, int]
    stages: dict[str, int]
    moves: dict[tuple[str, str], int]


def combine_history(
    segments: Iterable[str], parts: Iterable[PartitionHistory], width_us: int, count: int
) -> History:
    """The newest `count` buckets (ending at the newest bucket any partition has), summed.

    A bucket's size is derived backwards from the current size: the size at the end of a
    bucket is the current size less the net entries of every later bucket, which retention
    keeps (it drops only buckets older than the newest by more than it keeps).
    """
    ids = tuple(segments)
    sizes: Counter[str] = Counter()
    ever: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    moves: Counter[tuple[str, str]] = Counter()
    fields: dict[int, Counter[str]] = {}
    for part in parts:
        sizes.update(part.sizes)
        ever.update(part.entered_ever)
        stages.update(part.stages)
        moves.update(part.moves)
        for start, values in part.buckets.items():
            fields.setdefault(start, Counter()).update(values)
    newest = max(fields, default=0)
    starts = tuple(range(newest - count + 1, newest + 1)) if fields else ()
    series = {}
    for segment in ids:
        entered = [fields.get(t, Counter())[f"{segment}:e"] for t in starts]
        exited = [fields.get(t, Counter())[f"{segment}:x"] for t in starts]
        flapped = [fields.get(t, Counter())[f"{segment}:f"] for t in starts]
        size = [0] * len(starts)
        running = sizes[segment]
        for i in reversed(range(len(starts))):
            size[i] = running
            running -= entered[i] - exited[i]
        series[segment] = Series(tuple(size), tuple(entered), tuple(exited), tuple(flapped))
    return History(
        width_us=width_us,
        starts=tuple(t * width_us for t in starts),
        series=series,
        entered_ever={s: ever[s] for s in ids},
        stages={k: v for k, v in stages.items() if v},
        moves=dict(sorted(moves.items())),
    )
