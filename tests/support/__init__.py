"""Test support: compact builders of rule ASTs and input events, shared by oracle and tests.

Rules are built straight from the `stream.core.language.ast` dataclasses so that the oracle and its
tests do not depend on the loader. Events are the oracle's form: `timestamp` already parsed to
integer microseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from stream.core.evaluation.values import compile_pattern
from stream.core.language.ast import (
    Aggregate,
    All,
    Any_,
    Behaviour,
    Condition,
    InSegment,
    Lifecycle,
    LifecycleRule,
    Not,
    Predicate,
    PropertyFilter,
    RuleSet,
    ScoreDef,
    ScoreRule,
    ScoreTest,
    Segment,
    StageTest,
    Trait,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_RULES = ROOT / "stream" / "examples" / "segments.yaml"  # the rules the README shows

SECOND = 1_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
WEEK = 7 * DAY

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def us(text: str) -> int:
    """An RFC 3339 instant as microseconds since the epoch (test input only)."""
    return (datetime.fromisoformat(text) - _EPOCH) // timedelta(microseconds=1)


def pred(op: str, operand: Any, ignore_case: bool = False) -> Predicate:
    """A predicate shaped as the loader shapes it: tuples for in/not_in/between, compiled regex."""
    if op in ("in", "not_in", "between"):
        operand = tuple(operand)
    pattern = None
    if op == "matches":
        pattern = compile_pattern(operand, ignore_case)
    return Predicate(op, operand, ignore_case, pattern)


def path(dotted: str) -> tuple[str, ...]:
    return tuple(dotted.split("."))


def trait(dotted: str, op: str, operand: Any, ignore_case: bool = False) -> Trait:
    return Trait(path(dotted), pred(op, operand, ignore_case))


def where(filters: Mapping[str, Any] | None) -> tuple[PropertyFilter, ...]:
    """`where` filters: a bare value means eq, a (op, operand) pair or a Predicate is explicit."""
    out = []
    for dotted, spec in (filters or {}).items():
        if isinstance(spec, Predicate):
            p = spec
        elif isinstance(spec, tuple):
            p = pred(*spec)
        else:
            p = pred("eq", spec)
        out.append(PropertyFilter(path(dotted), p))
    return tuple(out)


def behaviour(
    types: str | Sequence[str],
    *,
    where_: Mapping[str, Any] | None = None,
    within: int | None = None,
    agg: str = "count",
    op: str = "gte",
    operand: Any = 1,
    prop: str | None = None,
) -> Behaviour:
    kinds = (types,) if isinstance(types, str) else tuple(types)
    aggregate = Aggregate(agg, pred(op, operand), path(prop) if prop else None)  # type: ignore[arg-type]
    return Behaviour(kinds, where(where_), within, aggregate)


def score_test(score: str, op: str, operand: Any) -> ScoreTest:
    return ScoreTest(score, pred(op, operand))


def stage_test(op: str, operand: Any) -> StageTest:
    return StageTest(pred(op, operand))


def all_(*items: Condition) -> All:
    return All(tuple(items))


def any_(*items: Condition) -> Any_:
    return Any_(tuple(items))


def not_(item: Condition) -> Not:
    return Not(item)


def in_segment(segment: str) -> InSegment:
    return InSegment(segment)


def score_rule(
    types: str | Sequence[str], points: float, where_: Mapping[str, Any] | None = None
) -> ScoreRule:
    kinds = (types,) if isinstance(types, str) else tuple(types)
    return ScoreRule(kinds, where(where_), points)


def ruleset(
    segments: Mapping[str, Condition] | Sequence[Segment],
    *,
    scores: Sequence[ScoreDef] = (),
    lifecycle: Lifecycle | None = None,
    holdouts: Mapping[str, float] | None = None,
    version_hash: str = "test0rules00",
) -> RuleSet:
    """A RuleSet from {segment id: condition} (or ready Segments)."""
    if isinstance(segments, Mapping):
        shares = holdouts or {}
        segs = tuple(
            Segment(sid, when, holdout=shares.get(sid, 0.0)) for sid, when in segments.items()
        )
    else:
        segs = tuple(segments)
    return RuleSet(1, segs, tuple(scores), lifecycle, version_hash)


def lifecycle(
    stages: Sequence[str], rules: Sequence[tuple[str, Condition]], allow_regress: bool = False
) -> Lifecycle:
    return Lifecycle(tuple(stages), tuple(LifecycleRule(s, c) for s, c in rules), allow_regress)


def event(
    event_id: str, contact: str, type_: str, ts: int, properties: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A behaviour event in the oracle's form (timestamp in microseconds)."""
    return {
        "event_id": event_id,
        "contact_id": contact,
        "type": type_,
        "timestamp": ts,
        "properties": properties or {},
    }


def identify(event_id: str, contact: str, ts: int, traits: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "contact_id": contact,
        "type": "identify",
        "timestamp": ts,
        "properties": {},
        "traits": traits,
    }
