"""Holdout lift: the share of each group that reached a segment's goal, with score intervals."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from stream.core.language.ast import Goal, RuleSet, Segment

Z95 = 1.959963984540054  # the two-sided 95% normal quantile
Interval = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Group:
    """Members of one group who entered the segment (not at the goal yet), and how many of them
    reached the goal within its window."""

    entered: int = 0
    converted: int = 0

    @property
    def rate(self) -> float | None:
        return self.converted / self.entered if self.entered else None


@dataclass(frozen=True, slots=True)
class Lift:
    """A segment's goal, its two groups, and the members at the goal already when entering."""

    segment: Segment
    goal: Goal
    treated: Group  # members not held out
    held_out: Group
    already: int = 0

    @property
    def difference(self) -> float | None:
        """Treated rate less held-out rate: the lift, in shares (0.05 is 5 points)."""
        a, b = self.treated.rate, self.held_out.rate
        return None if a is None or b is None else a - b


def wilson(group: Group, z: float = Z95) -> Interval | None:
    """The Wilson score interval of a group's rate; None for an empty group."""
    n = group.entered
    if n == 0:
        return None
    p = group.converted / n
    scale = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / scale
    half = z / scale * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(a: Group, b: Group, z: float = Z95) -> Interval | None:
    """Newcombe's hybrid score interval (his method 10) of rate(a) - rate(b), built from the
    two Wilson intervals; None when either group is empty."""
    wa, wb = wilson(a, z), wilson(b, z)
    if wa is None or wb is None or a.rate is None or b.rate is None:
        return None
    pa, pb = a.rate, b.rate
    lower = pa - pb - math.sqrt((pa - wa[0]) ** 2 + (wb[1] - pb) ** 2)
    upper = pa - pb + math.sqrt((wa[1] - pa) ** 2 + (pb - wb[0]) ** 2)
    return lower, upper


def goal_targets(goal: Goal, rules: RuleSet) -> tuple[str, ...]:
    """What reaching `goal` means: the segment, or the stage and every later stage."""
    if goal.kind == "segment" or rules.lifecycle is None:
        return (goal.target,)
    stages = rules.lifecycle.stages
    return stages[stages.index(goal.target) :]


def lifts(rules: RuleSet, counters: Iterable[Mapping[str, int]]) -> list[Lift]:
    """The lift of every segment with a goal, in file order, from per-partition counters
    (`SEGMENT:n0`, `:n1` entered, `:c0`, `:c1` converted, `:a` already there)."""
    total: dict[str, int] = {}
    for part in counters:
        for name, count in part.items():
            total[name] = total.get(name, 0) + count
    found = []
    for segment in rules.segments:
        if segment.goal is None:
            continue

        def group(held: str, sid: str = segment.id) -> Group:
            return Group(total.get(f"{sid}:n{held}", 0), total.get(f"{sid}:c{held}", 0))

        found.append(
            Lift(segment, segment.goal, group("0"), group("1"), total.get(f"{segment.id}:a", 0))
        )
    return found
