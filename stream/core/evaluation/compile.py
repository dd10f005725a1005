"""Compile a RuleSet once into fast evaluators and the index of what each input can change.

Nodes are the segments and the lifecycle stage, in dependency order: (depth, key), where the
stage's key is "" (docs/semantics.md). An event re-evaluates only the nodes that read a feed
it changed or a trait it set, and then the readers of every node whose value changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stream.core.evaluation import windows
from stream.core.evaluation.feeds import Feed, behaviour_extractor, feed_key, score_extractor
from stream.core.evaluation.state import ContactState
from stream.core.evaluation.values import (
    MISSING,
    ValueTest,
    compile_numeric_test,
    compile_test,
    resolve,
)
from stream.core.language import ast
from stream.core.limits import DEFAULT_LIMITS, Limits

Evaluator = Callable[[ContactState, int], bool]
LIFECYCLE = ""  # the lifecycle node's key in the dependency order


@dataclass(frozen=True, slots=True)
class Node:
    """A segment (`key` = its id) or the lifecycle stage (`key` = LIFECYCLE)."""

    key: str
    depth: int
    evaluate: Evaluator  # segments only; the stage uses `stage_rules`
    holdout: float = 0.0
    stage_rules: tuple[tuple[int, Evaluator], ...] = ()  # (stage index, rule), highest first


@dataclass(frozen=True, slots=True)
class TimeLeaf:
    """A windowed condition whose value can change as time passes: feed + test of its value."""

    feed: int
    test: ValueTest
    # True when adding an event can only postpone this leaf's next flip, as long as the
    # feed holds no negative values: a count, distinct count or sum under an ordering test.
    monotone: bool = False


@dataclass(slots=True)
class Plan:
    """Everything the engine needs, computed once per rule set."""

    feeds: list[Feed] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    stages: tuple[str, ...] = ()
    allow_regress: bool = False
    trait_keys: frozenset[str] = frozenset()
    time_leaves: list[TimeLeaf] = field(default_factory=list)
    feeds_by_type: dict[str, tuple[int, ...]] = field(default_factory=dict)
    # Node positions that read a feed / a top-level trait directly, and each node's readers.
    nodes_by_feed: dict[int, tuple[int, ...]] = field(default_factory=dict)
    nodes_by_trait: dict[str, tuple[int, ...]] = field(default_factory=dict)
    dependents: list[tuple[int, ...]] = field(default_factory=list)
    leaves_by_feed: dict[int, tuple[int, ...]] = field(default_factory=dict)


class _Builder:
    """Walks conditions, registering feeds and recording what each node reads."""

    def __init__(self, rules: ast.RuleSet, limits: Limits) -> None:
        self.limits = limits
        self.feeds: list[Feed] = []
        self.feed_index: dict[str, int] = {}
        self.time_leaves: list[TimeLeaf] = []
        self.scores = {s.id: s for s in rules.scores}
        self.stages = rules.lifecycle.stages if rules.lifecycle else ()
        # What the node being compiled reads:
        self.used_feeds: set[int] = set()
        self.traits: set[str] = set()
        self.refs: set[str] = set()

    def start_node(self) -> None:
        self.used_feeds, self.traits, self.refs = set(), set(), set()

    def feed(self, key: str, kind: str, within: int | None, extractors: dict[str, Any]) -> int:
        if key not in self.feed_index:
            self.feed_index[key] = len(self.feeds)
            self.feeds.append(Feed(key, kind, within, extractors))
        return self.feed_index[key]

    def leaf(self, feed: int, test: ValueTest, op: str) -> Evaluator:
        spec = self.feeds[feed]
        self.used_feeds.add(feed)
        if spec.within is not None:
            monotone = spec.kind in ("count", "distinct", "sum") and op in _ORDERING
            self.time_leaves.append(TimeLeaf(feed, test, monotone))
        return _leaf_evaluator(spec, feed, test)

    def condition(self, cond: ast.Condition) -> Evaluator:
        if isinstance(cond, ast.All):
            return _all_of([self.condition(c) for c in cond.items])
        if isinstance(cond, ast.Any_):
            return _any_of([self.condition(c) for c in cond.items])
        if isinstance(cond, ast.Not):
            inner = self.condition(cond.item)
            return lambda st, now: not inner(st, now)
        if isinstance(cond, ast.Trait):
            self.traits.add(cond.path[0])
            path, test = cond.path, compile_test(cond.predicate, self.limits)
            if len(path) == 1:  # top-level traits are never null: null removes them
                key = path[0]
                return lambda st, now: test(st.traits.get(key, MISSING))
            if len(path) == 2:
                return _nested_trait(path[0], path[1], test)
            return lambda st, now: test(resolve(st.traits, path))
        if isinstance(cond, ast.Behaviour):
            return self.behaviour(cond)
        if isinstance(cond, ast.ScoreTest):
            return self.score(cond)
        if isinstance(cond, ast.InSegment):
            self.refs.add(cond.segment)
            segment = cond.segment
            return lambda st, now: segment in st.members
        if isinstance(cond, ast.StageTest):
            self.refs.add(LIFECYCLE)
            return self.stage_test(cond.predicate)
        raise TypeError(f"unknown condition {cond!r}")

    def behaviour(self, cond: ast.Behaviour) -> Evaluator:
        agg = cond.aggregate
        key = feed_key("b", cond.types, cond.where, cond.within, agg.kind, agg.property)
        extractor = behaviour_extractor(cond.where, agg.kind, agg.property, self.limits)
        feed = self.feed(key, agg.kind, cond.within, dict.fromkeys(cond.types, extractor))
        if agg.kind == "count":
            operand = agg.predicate.operand
            top = max(operand) if isinstance(operand, tuple) else operand
            self.feeds[feed].need_count_up_to(top)
        return self.leaf(feed, compile_numeric_test(agg.predicate), agg.predicate.op)

    def score(self, cond: ast.ScoreTest) -> Evaluator:
        score = self.scores[cond.score]
        types = sorted({t for rule in score.rules for t in rule.types})
        extractors = {t: score_extractor(score.rules, t, self.limits) for t in types}
        feed = self.feed(feed_key("s", score), "sum", score.within, extractors)
        return self.leaf(feed, compile_numeric_test(cond.predicate), cond.predicate.op)

    def stage_test(self, predicate: ast.Predicate) -> Evaluator:
        index = self.stages.index
        operand = predicate.operand
        if predicate.op in ("in", "not_in"):
            wanted = frozenset(index(s) for s in operand)
            inside = predicate.op == "in"
            return lambda st, now: st.stage is not None and (st.stage in wanted) is inside
        target = index(operand)
        compare = _STAGE_COMPARE[predicate.op]
        return lambda st, now: st.stage is not None and compare(st.stage, target)


def _all_of(parts: list[Evaluator]) -> Evaluator:
    if len(parts) == 2:
        first, second = parts
        return lambda st, now: first(st, now) and second(st, now)

    def every(st: ContactState, now: int) -> bool:
        for part in parts:  # noqa: SIM110 - a loop is faster than all() over a generator
            if not part(st, now):
                return False
        return True

    return every


def _any_of(parts: list[Evaluator]) -> Evaluator:
    if len(parts) == 2:
        first, second = parts
        return lambda st, now: first(st, now) or second(st, now)

    def some(st: ContactState, now: int) -> bool:
        for part in parts:  # noqa: SIM110 - a loop is faster than any() over a generator
            if part(st, now):
                return True
        return False

    return some


def _nested_trait(top: str, key: str, test: ValueTest) -> Evaluator:
    """`test` of the trait at `top.key`: `resolve` unrolled for the common two-step path."""

    def nested(st: ContactState, now: int) -> bool:
        outer = st.traits.get(top)
        if not isinstance(outer, dict):
            return test(MISSING)
        value = outer.get(key)
        return test(MISSING if value is None else value)

    return nested


def _leaf_evaluator(spec: Feed, feed: int, test: ValueTest) -> Evaluator:
    """`test(value of the feed at now)`, with the common cases inlined."""
    within = spec.within
    if within is None:
        if spec.kind == "count":
            return lambda st, now: test(st.feeds[feed])
        value = spec.value
        return lambda st, now: test(value(st.feeds[feed], now))
    aggregate = windows.AGGREGATORS[spec.kind]
    prune = windows.prune

    def windowed(st: ContactState, now: int) -> bool:
        data = st.feeds[feed]
        if data and data[0][0] <= now - within:
            prune(data, now, within)
        return test(aggregate(data))

    return windowed


_ORDERING = frozenset({"gt", "gte", "lt", "lte"})

_STAGE_COMPARE: dict[str, Callable[[int, int], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


@dataclass(slots=True)
class _Draft:
    key: str
    evaluate: Evaluator
    holdout: float
    stage_rules: tuple[tuple[int, Evaluator], ...]
    feeds: set[int]
    traits: set[str]
    refs: set[str]


def compile_rules(rules: ast.RuleSet, limits: Limits = DEFAULT_LIMITS) -> Plan:
    """Compile a loaded (already validated) rule set; `limits.match_chars` bounds `matches`."""
    builder = _Builder(rules, limits)
    drafts: dict[str, _Draft] = {}
    for segment in rules.segments:
        builder.start_node()
        evaluate = builder.condition(segment.when)
        drafts[segment.id] = _draft(builder, segment.id, evaluate, segment.holdout, ())
    if rules.lifecycle is not None:
        builder.start_node()
        stages = rules.lifecycle.stages
        stage_rules = [
            (stages.index(r.stage), builder.condition(r.when)) for r in rules.lifecycle.rules
        ]
        stage_rules.sort(key=lambda pair: -pair[0])
        drafts[LIFECYCLE] = _draft(builder, LIFECYCLE, _never, 0.0, tuple(stage_rules))

    depth = _depths(drafts)
    order = sorted(drafts, key=lambda k: (depth[k], k))
    position = {key: i for i, key in enumerate(order)}
    plan = Plan(feeds=builder.feeds, time_leaves=builder.time_leaves)
    plan.stages = builder.stages
    plan.allow_regress = bool(rules.lifecycle and rules.lifecycle.allow_regress)
    plan.nodes = [
        Node(k, depth[k], drafts[k].evaluate, drafts[k].holdout, drafts[k].stage_rules)
        for k in order
    ]
    dependents: dict[str, set[int]] = {k: set() for k in drafts}
    for key, draft in drafts.items():
        for ref in draft.refs:
            dependents[ref].add(position[key])
    plan.dependents = [tuple(sorted(dependents[k])) for k in order]

    by_feed_sets: dict[int, set[int]] = {f: set() for f in range(len(plan.feeds))}
    by_trait_sets: dict[str, set[int]] = {}
    for key, draft in drafts.items():
        for f in draft.feeds:
            by_feed_sets[f].add(position[key])
        for t in draft.traits:
            by_trait_sets.setdefault(t, set()).add(position[key])
    plan.nodes_by_feed = {f: tuple(sorted(v)) for f, v in by_feed_sets.items()}
    plan.nodes_by_trait = {t: tuple(sorted(v)) for t, v in by_trait_sets.items()}
    plan.trait_keys = frozenset(by_trait_sets)
    types = {t for f in plan.feeds for t in f.extractors}
    plan.feeds_by_type = {
        t: tuple(i for i, f in enumerate(plan.feeds) if t in f.extractors) for t in types
    }
    by_feed: dict[int, list[int]] = {}
    for i, leaf in enumerate(plan.time_leaves):
        by_feed.setdefault(leaf.feed, []).append(i)
    plan.leaves_by_feed = {f: tuple(v) for f, v in by_feed.items()}
    return plan


def _never(st: ContactState, now: int) -> bool:
    return False


def _draft(
    builder: _Builder,
    key: str,
    evaluate: Evaluator,
    holdout: float,
    stage_rules: tuple[tuple[int, Evaluator], ...],
) -> _Draft:
    return _Draft(
        key,
        evaluate,
        holdout,
        stage_rules,
        builder.used_feeds,
        builder.traits,
        builder.refs,
    )


def _depths(drafts: dict[str, _Draft]) -> dict[str, int]:
    """Depth of each node: 0 without references, else 1 + the deepest it refers to."""
    depth: dict[str, int] = {}

    def visit(key: str) -> int:
        if key not in depth:
            refs = drafts[key].refs
            depth[key] = 1 + max(visit(r) for r in refs) if refs else 0
        return depth[key]

    for key in drafts:
        visit(key)
    return depth
