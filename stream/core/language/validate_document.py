"""The sections of a definition file (version, scores, segments, lifecycle) checked into an AST."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from stream.core.language.ast import (
    Lifecycle,
    LifecycleRule,
    RuleSet,
    ScoreDef,
    ScoreRule,
    Segment,
)
from stream.core.language.validate_conditions import (
    parse_condition,
    parse_event_types,
    parse_within,
)
from stream.core.language.validate_context import (
    LIFECYCLE,
    Context,
    check_keys,
    check_name,
    check_text,
    describe,
    is_number,
    join,
)
from stream.core.language.validate_goal import parse_goal
from stream.core.language.validate_values import parse_where

TOP_KEYS = ("version", "scores", "segments", "lifecycle")
SEGMENT_KEYS = (
    "id", "name", "description", "persona", "owner", "tags", "holdout", "goal", "when",
)  # fmt: skip
SCORE_KEYS = ("id", "rules", "within")
SCORE_RULE_KEYS = ("event", "where", "points")
LIFECYCLE_KEYS = ("stages", "rules", "allow_regress")
LIFECYCLE_RULE_KEYS = ("stage", "when")
_DOC_FIELDS = ("name", "description", "persona", "owner")
# Scores sum points over any number of events; bounded like event numbers
# (limits.Limits.number_magnitude) so that the sum stays finite.
MAX_POINTS = 1e100

_Node = Mapping[str, Any]


def parse_document(doc: object, ctx: Context) -> RuleSet | None:
    """The whole file as a RuleSet (without its version hash), or None when ctx has problems."""
    if not isinstance(doc, dict):
        ctx.structure(
            "", f"the top level must be a mapping with version and segments, got {describe(doc)}"
        )
        ctx.segment_ids = ctx.score_ids = None
        return None
    check_keys(doc, "", ctx, TOP_KEYS, required=("version", "segments"))
    if "version" in doc:
        _check_version(doc["version"], ctx)
    scores = _list(doc, "scores", ctx, _score, "score", allow_empty=True) if "scores" in doc else []
    if "scores" in doc and scores is None:
        ctx.score_ids = None
    lifecycle = _lifecycle(doc["lifecycle"], ctx) if "lifecycle" in doc else None
    segments = (
        _list(doc, "segments", ctx, _segment, "segment", allow_empty=False)
        if "segments" in doc
        else None
    )
    if segments is None:
        ctx.segment_ids = None
    if ctx.structural or ctx.meaning or segments is None or scores is None:
        return None
    return RuleSet(1, tuple(segments), tuple(scores), lifecycle)


def _check_version(value: object, ctx: Context) -> None:
    if is_number(value) and value == 1:  # 1.0 too, like JSON Schema's integer
        return
    if is_number(value) and float(value).is_integer():
        ctx.structure("version", f"unsupported version {value}: this segstream reads version 1")
    else:
        ctx.structure("version", f"version needs the number 1, got {describe(value)}")


def _list(
    node: _Node,
    key: str,
    ctx: Context,
    parse_item: Callable[[object, str, int, Context], Any],
    noun: str,
    *,
    allow_empty: bool,
    base: str = "",
) -> list[Any] | None:
    """Parse the list at `node[key]` item by item; None when it is not a usable list."""
    value, path = node[key], join(base, key)
    if not isinstance(value, list):
        ctx.structure(path, f"expected a list of {noun}s, got {describe(value)}")
        return None
    if not value and not allow_empty:
        ctx.structure(path, f"at least one {noun} is required")
    return [parse_item(item, join(path, i), i, ctx) for i, item in enumerate(value)]


def _mapping(node: object, path: str, ctx: Context, what: str) -> _Node | None:
    if isinstance(node, dict):
        return node
    ctx.structure(path, f"expected {what}, got {describe(node)}")
    return None


def _problem_count(ctx: Context) -> int:
    return len(ctx.structural) + len(ctx.meaning)


def _define(
    node: _Node, path: str, index: int, ids: list[tuple[str, int]] | None, what: str, ctx: Context
) -> None:
    """Check the `id` of a segment or score and record it (even a malformed one, so that
    references to it are not reported as unknown too)."""
    if "id" not in node:
        return
    if isinstance(node["id"], str) and ids is not None:
        ids.append((node["id"], index))
    check_name(node["id"], join(path, "id"), ctx, what)


def _segment(item: object, path: str, index: int, ctx: Context) -> Segment | None:
    node = _mapping(item, path, ctx, "a segment: a mapping with id and when")
    if node is None:
        return None
    before = _problem_count(ctx)
    check_keys(node, path, ctx, SEGMENT_KEYS, required=("id", "when"))
    _define(node, path, index, ctx.segment_ids, "segment id", ctx)
    for key in _DOC_FIELDS:
        if key in node:
            check_text(node[key], join(path, key), ctx, key)
    tags = node.get("tags", [])
    if not isinstance(tags, list):
        ctx.structure(join(path, "tags"), f"tags needs a list of texts, got {describe(tags)}")
    else:
        for i, tag in enumerate(tags):
            check_text(tag, join(join(path, "tags"), i), ctx, "a tag")
    holdout = node.get("holdout", 0)
    if not (is_number(holdout) and 0 <= holdout < 1):
        ctx.structure(
            join(path, "holdout"),
            f"holdout needs a number from 0 up to but not including 1 (0.1 holds out 10%), "
            f"got {describe(holdout)}",
        )
    ctx.owner = index
    goal = parse_goal(node["goal"], join(path, "goal"), ctx) if "goal" in node else None
    when = parse_condition(node["when"], join(path, "when"), ctx) if "when" in node else None
    if _problem_count(ctx) > before or when is None:
        return None
    return Segment(
        id=node["id"],
        when=when,
        tags=tuple(tags),
        holdout=float(holdout),
        goal=goal,
        **{key: node[key] for key in _DOC_FIELDS if key in node},
    )


def _score(item: object, path: str, index: int, ctx: Context) -> ScoreDef | None:
    node = _mapping(item, path, ctx, "a score: a mapping with id and rules")
    if node is None:
        return None
    before = _problem_count(ctx)
    check_keys(node, path, ctx, SCORE_KEYS, required=("id", "rules"))
    _define(node, path, index, ctx.score_ids, "score id", ctx)
    rules = (
        _list(node, "rules", ctx, _score_rule, "rule", allow_empty=False, base=path)
        if "rules" in node
        else None
    )
    within = parse_within(node["within"], join(path, "within"), ctx) if "within" in node else None
    if _problem_count(ctx) > before or rules is None:
        return None
    return ScoreDef(node["id"], tuple(rules), within)


def _score_rule(item: object, path: str, index: int, ctx: Context) -> ScoreRule | None:
    node = _mapping(item, path, ctx, "a score rule such as {event: email_open, points: 1}")
    if node is None:
        return None
    before = _problem_count(ctx)
    check_keys(node, path, ctx, SCORE_RULE_KEYS, required=("event", "points"))
    types = parse_event_types(node["event"], join(path, "event"), ctx) if "event" in node else None
    where = parse_where(node["where"], join(path, "where"), ctx) if "where" in node else ()
    points = node.get("points")
    if "points" in node and not is_number(points):
        ctx.structure(join(path, "points"), f"points needs a number, got {describe(points)}")
    elif is_number(points) and not -MAX_POINTS <= points <= MAX_POINTS:
        ctx.meaning_problem(
            join(path, "points"),
            f"points {describe(points)} is too large: at most 1e100 either way",
        )
    if _problem_count(ctx) > before or types is None or where is None:
        return None
    return ScoreRule(types, where, node["points"])


def _lifecycle(item: object, ctx: Context) -> Lifecycle | None:
    ctx.stages = "broken"
    node = _mapping(item, "lifecycle", ctx, "a lifecycle: a mapping with stages and rules")
    if node is None:
        return None
    before = _problem_count(ctx)
    check_keys(node, "lifecycle", ctx, LIFECYCLE_KEYS, required=("stages", "rules"))
    stages = node.get("stages")
    if isinstance(stages, list):
        ctx.stages = [stage for stage in stages if isinstance(stage, str)]
        if not stages:
            ctx.structure("lifecycle.stages", "at least one stage is required")
        for i, stage in enumerate(stages):
            check_name(stage, f"lifecycle.stages[{i}]", ctx, "stage name")
    elif "stages" in node:
        ctx.structure(
            "lifecycle.stages", f"stages needs a list of stage names, got {describe(stages)}"
        )
    ctx.owner = LIFECYCLE
    rules = (
        _list(node, "rules", ctx, _lifecycle_rule, "rule", allow_empty=False, base="lifecycle")
        if "rules" in node
        else None
    )
    allow_regress = node.get("allow_regress", False)
    if not isinstance(allow_regress, bool):
        ctx.structure(
            "lifecycle.allow_regress",
            f"allow_regress needs true or false, got {describe(allow_regress)}",
        )
    if _problem_count(ctx) > before or rules is None or not isinstance(stages, list):
        return None
    return Lifecycle(tuple(stages), tuple(rules), allow_regress)


def _lifecycle_rule(item: object, path: str, index: int, ctx: Context) -> LifecycleRule | None:
    node = _mapping(item, path, ctx, "a lifecycle rule such as {stage: lead, when: ...}")
    if node is None:
        return None
    check_keys(node, path, ctx, LIFECYCLE_RULE_KEYS, required=("stage", "when"))
    stage = None
    if "stage" in node:
        stage = check_name(node["stage"], join(path, "stage"), ctx, "stage name")
        if stage is not None:
            ctx.use("rule_stage", stage, join(path, "stage"))
    when = parse_condition(node["when"], join(path, "when"), ctx) if "when" in node else None
    return None if stage is None or when is None else LifecycleRule(stage, when)
