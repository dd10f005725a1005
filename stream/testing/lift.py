"""Holdout lift counted the slow, obvious way from change messages: the tests' reference."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from stream.core.health.lift import goal_targets
from stream.core.language.ast import RuleSet
from stream.core.timefmt import parse_ts


def lift_brute_force(changes: Iterable[dict[str, Any]], rules: RuleSet) -> dict[str, int]:
    """The lift counters (`SEGMENT:n0`, `:n1`, `:c0`, `:c1`, `:a`) from every change message
    (as `segstream replay` prints them), by its definition in docs/serving.md: per contact
    and segment with a goal, the first entry; at the goal already when the changes before it
    leave the contact there, else converted when a later change reaches the goal no earlier
    than the entry and no more than the goal's window after it."""
    per_contact: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for change in changes:
        per_contact[change["contact_id"]].append(change)
    counters: dict[str, int] = defaultdict(int)
    for history in per_contact.values():
        history.sort(key=lambda change: change["seq"])
        for segment in rules.segments:
            if segment.goal is None:
                continue
            targets = set(goal_targets(segment.goal, rules))
            kind = segment.goal.kind
            first = next(
                (i for i, c in enumerate(history) if _entered(c) and c["segment"] == segment.id),
                None,
            )
            if first is None:
                continue
            entry = history[first]
            if _at_goal(history[:first], kind, targets):
                counters[f"{segment.id}:a"] += 1
                continue
            held = "1" if entry.get("holdout") else "0"
            counters[f"{segment.id}:n{held}"] += 1
            start = parse_ts(entry["at"])
            if any(
                start <= parse_ts(c["at"]) <= start + segment.goal.within
                for c in history[first + 1 :]
                if _reaches(c, kind, targets)
            ):
                counters[f"{segment.id}:c{held}"] += 1
    return dict(counters)


def _entered(change: dict[str, Any]) -> bool:
    return bool(change["kind"] == "segment" and change["change"] == "entered")


def _reaches(change: dict[str, Any], kind: str, targets: set[str]) -> bool:
    """Whether `change` moves the contact into the goal (a goal stage or segment)."""
    if kind == "stage":
        return change["kind"] == "lifecycle" and change["to"] in targets
    return _entered(change) and change["segment"] in targets


def _at_goal(before: list[dict[str, Any]], kind: str, targets: set[str]) -> bool:
    """Whether the changes `before` leave the contact at the goal."""
    if kind == "stage":
        stages = [c["to"] for c in before if c["kind"] == "lifecycle"]
        return bool(stages) and stages[-1] in targets
    inside: set[str] = set()
    for change in before:
        if change["kind"] == "segment":
            (inside.add if change["change"] == "entered" else inside.discard)(change["segment"])
    return bool(inside & targets)
