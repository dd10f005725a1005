"""Holdout lift in Redis: the goals the apply step is given, and the lift answer read back."""

from __future__ import annotations

from typing import Any

from stream.core.catalog.english import goal as goal_text
from stream.core.health.lift import Group, Interval, Lift, goal_targets, lifts, newcombe, wilson
from stream.core.language.ast import RuleSet
from stream.serving.store import Store


def goal_spec(rules: RuleSet | None) -> str:
    """The goals argument of lua/apply.lua: ``SEGMENT|s|STAGE,LATER|WITHIN_US;...`` (``g``
    and the target segment for a segment goal); "" without rules or goals. Ids and stage
    names never hold the separators (the rules' names are ``[a-z0-9_]``)."""
    if rules is None:
        return ""
    parts = []
    for segment in rules.segments:
        if segment.goal is not None:
            kind = "s" if segment.goal.kind == "stage" else "g"
            targets = ",".join(goal_targets(segment.goal, rules))
            parts.append(f"{segment.id}|{kind}|{targets}|{segment.goal.within}")
    return ";".join(parts)


async def read_lift(store: Store, partitions: int, rules: RuleSet | None) -> list[dict[str, Any]]:
    """The lift of every segment with a goal (none without the rules, which name the goals)."""
    if rules is None or not any(s.goal is not None for s in rules.segments):
        return []
    return [lift_answer(found) for found in lifts(rules, await store.lift(partitions))]


def lift_answer(found: Lift) -> dict[str, Any]:
    """One segment's entry in the `lift` list of the health answer."""
    return {
        "segment": found.segment.id,
        "goal": {
            found.goal.kind: found.goal.target,
            "within_s": found.goal.within // 1_000_000,
            "text": goal_text(found.goal),
        },
        "holdout": found.segment.holdout,
        "treated": _group(found.treated),
        "held_out": _group(found.held_out),
        "already": found.already,
        "difference": _round(found.difference),
        "difference_interval": _interval(newcombe(found.treated, found.held_out)),
    }


def _group(group: Group) -> dict[str, Any]:
    return {
        "entered": group.entered,
        "converted": group.converted,
        "rate": _round(group.rate),
        "interval": _interval(wilson(group)),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _interval(interval: Interval | None) -> list[float] | None:
    return None if interval is None else [round(interval[0], 6), round(interval[1], 6)]
