"""Conditions in definition files, checked and turned into AST nodes in one walk."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import cast

from stream.core.language.ast import (
    AGGREGATES,
    Aggregate,
    AggregateKind,
    All,
    Any_,
    Behaviour,
    Condition,
    InSegment,
    Not,
    Predicate,
    ScoreTest,
    StageTest,
    Trait,
)
from stream.core.language.durations import (
    WINDOW,
    DurationError,
    Use,
    is_duration_shape,
    parse_duration,
)
from stream.core.language.validate_context import (
    Context,
    check_name,
    check_path,
    describe,
    did_you_mean,
    join,
)
from stream.core.language.validate_values import (
    parse_numeric_test,
    parse_stage_test,
    parse_value_test,
    parse_where,
)

KINDS = ("all", "any", "not", "trait", "event", "score", "in_segment", "stage")
EVENT_OPTIONS = ("event", "where", "within", *AGGREGATES)
IDENTIFY = "identify"
DEFAULT_AGGREGATE = Aggregate("count", Predicate("gte", 1))

_Node = Mapping[str, object]


def parse_condition(node: object, path: str, ctx: Context) -> Condition | None:
    """The condition at `path`, or None after reporting what is wrong with it."""
    if not isinstance(node, dict):
        hint = "; to combine several, put them under all: or any:" if isinstance(node, list) else ""
        ctx.structure(
            path,
            "expected a condition: a mapping with one of "
            f"{', '.join(KINDS)}, got {describe(node)}{hint}",
        )
        return None
    kinds = [key for key in node if key in KINDS]
    if len(kinds) > 1:
        ctx.structure(
            path,
            f"more than one condition key ({', '.join(kinds)}): a condition has exactly one; "
            "combine conditions with all or any",
        )
        return None
    if not kinds:
        near = "".join(did_you_mean(key, KINDS) for key in node)
        found = f"; found {', '.join(repr(key) for key in node)}{near}" if node else ""
        ctx.structure(path, f"not a condition: it needs one of {', '.join(KINDS)}{found}")
        return None
    return _PARSERS[kinds[0]](node, path, ctx)


def _no_options(node: _Node, path: str, ctx: Context, kind: str) -> None:
    for key in node:
        if key != kind:
            ctx.structure(join(path, kind), f"unknown option {key!r}: {kind} takes none")


def _boolean(node: _Node, path: str, ctx: Context, kind: str) -> tuple[Condition, ...] | None:
    _no_options(node, path, ctx, kind)
    items, items_path = node[kind], join(path, kind)
    if not isinstance(items, list):
        ctx.structure(items_path, f"{kind} needs a list of conditions, got {describe(items)}")
        return None
    parsed = [parse_condition(item, join(items_path, i), ctx) for i, item in enumerate(items)]
    return None if None in parsed else tuple(c for c in parsed if c is not None)


def _all(node: _Node, path: str, ctx: Context) -> Condition | None:
    items = _boolean(node, path, ctx, "all")
    return None if items is None else All(items)


def _any(node: _Node, path: str, ctx: Context) -> Condition | None:
    items = _boolean(node, path, ctx, "any")
    return None if items is None else Any_(items)


def _not(node: _Node, path: str, ctx: Context) -> Condition | None:
    _no_options(node, path, ctx, "not")
    item = parse_condition(node["not"], join(path, "not"), ctx)
    return None if item is None else Not(item)


def _trait(node: _Node, path: str, ctx: Context) -> Condition | None:
    trait = check_path(node["trait"], join(path, "trait"), ctx, "trait path")
    predicate = parse_value_test(node, path, ctx, subject="trait")
    return None if trait is None or predicate is None else Trait(trait, predicate)


def _score(node: _Node, path: str, ctx: Context) -> Condition | None:
    score = check_name(node["score"], join(path, "score"), ctx, "score id")
    if score is not None:
        ctx.use("score", score, join(path, "score"))
    predicate = parse_numeric_test(node, path, join(path, "score"), ctx, others=("score",))
    return None if score is None or predicate is None else ScoreTest(score, predicate)


def _in_segment(node: _Node, path: str, ctx: Context) -> Condition | None:
    _no_options(node, path, ctx, "in_segment")
    segment = check_name(node["in_segment"], join(path, "in_segment"), ctx, "segment id")
    if segment is None:
        return None
    ctx.use("segment", segment, join(path, "in_segment"))
    return InSegment(segment)


def _stage(node: _Node, path: str, ctx: Context) -> Condition | None:
    _no_options(node, path, ctx, "stage")
    predicate = parse_stage_test(node["stage"], join(path, "stage"), ctx)
    return None if predicate is None else StageTest(predicate)


def parse_event_types(value: object, path: str, ctx: Context) -> tuple[str, ...] | None:
    """`event: page_view` or `event: [email_open, email_click]`."""
    if isinstance(value, list):
        if not value:
            ctx.structure(path, "event needs at least one event type")
            return None
        items = [(item, join(path, i)) for i, item in enumerate(value)]
    else:
        items = [(value, path)]
    types: list[str] = []
    for item, item_path in items:
        if not isinstance(item, str) or not item:
            ctx.structure(
                item_path, f"event needs an event type such as page_view, got {describe(item)}"
            )
        elif item == IDENTIFY:
            ctx.meaning_problem(
                item_path,
                "identify is a profile update, not a behaviour event: test traits instead",
            )
        else:
            types.append(item)
    return tuple(types) if len(types) == len(items) else None


def parse_within(value: object, path: str, ctx: Context, use: Use = WINDOW) -> int | None:
    """A window such as ``30d`` in microseconds, or None after reporting why not."""
    if not isinstance(value, str):
        ctx.structure(path, f"within needs a duration such as 30d, got {describe(value)}")
        return None
    try:
        return parse_duration(value, use)
    except DurationError as exc:
        report = ctx.structure if not is_duration_shape(value, use) else ctx.meaning_problem
        report(path, str(exc))
        return None


def _aggregate(node: _Node, path: str, ctx: Context, kind: str) -> Aggregate | None:
    value, agg_path = node[kind], join(path, kind)
    example = "{gte: 3}" if kind == "count" else "{property: amount, gte: 100}"
    if not isinstance(value, dict):
        ctx.structure(agg_path, f"{kind} needs a mapping such as {example}, got {describe(value)}")
        return None
    if kind == "count":
        predicate = parse_numeric_test(value, agg_path, agg_path, ctx)
        return None if predicate is None else Aggregate("count", predicate)
    prop = None
    if "property" in value:
        prop = check_path(value["property"], join(agg_path, "property"), ctx, "property path")
    else:
        ctx.structure(agg_path, f"missing required key 'property': the event property to {kind}")
    predicate = parse_numeric_test(value, agg_path, agg_path, ctx, others=("property",))
    if prop is None or predicate is None:
        return None
    return Aggregate(cast(AggregateKind, kind), predicate, prop)


def _event(node: _Node, path: str, ctx: Context) -> Condition | None:
    at = join(path, "event")
    for key in node:
        if key not in EVENT_OPTIONS:
            ctx.structure(at, f"unknown option {key!r}{did_you_mean(key, EVENT_OPTIONS)}")
    types = parse_event_types(node["event"], at, ctx)
    where = parse_where(node["where"], join(path, "where"), ctx) if "where" in node else ()
    within = parse_within(node["within"], join(path, "within"), ctx) if "within" in node else None
    kinds = [key for key in node if key in AGGREGATES]
    aggregate: Aggregate | None = DEFAULT_AGGREGATE
    if len(kinds) > 1:
        ctx.structure(at, f"more than one aggregate ({', '.join(kinds)}): use one per condition")
        aggregate = None
    elif kinds:
        aggregate = _aggregate(node, path, ctx, kinds[0])
    within_ok = within is not None or "within" not in node
    if types is None or where is None or aggregate is None or not within_ok:
        return None
    return Behaviour(types, where, within, aggregate)


_PARSERS: dict[str, Callable[[_Node, str, Context], Condition | None]] = {
    "all": _all,
    "any": _any,
    "not": _not,
    "trait": _trait,
    "event": _event,
    "score": _score,
    "in_segment": _in_segment,
    "stage": _stage,
}
