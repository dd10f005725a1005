"""A segment's `goal` checked into a Goal: the stage or segment its members should reach."""

from __future__ import annotations

from stream.core.language.ast import Goal
from stream.core.language.durations import WINDOW, Use
from stream.core.language.validate_conditions import parse_within
from stream.core.language.validate_context import (
    Context,
    check_keys,
    check_name,
    describe,
    join,
)

GOAL_KEYS = ("stage", "segment", "within")
# A goal's window is required: there is no "all time" to point a writer to.
GOAL_WINDOW = Use(WINDOW.units, zero=False, hint="")
_EXAMPLE = "{stage: customer, within: 30d}"


def parse_goal(value: object, path: str, ctx: Context) -> Goal | None:
    """The goal at `path`, or None after reporting every problem with it.

    Whether the stage or segment exists is checked with the whole file (validate_meaning).
    """
    if not isinstance(value, dict):
        ctx.structure(path, f"goal needs a mapping such as {_EXAMPLE}, got {describe(value)}")
        return None
    ok = check_keys(value, path, ctx, GOAL_KEYS, required=("within",))
    kinds = [kind for kind in ("stage", "segment") if kind in value]
    if len(kinds) == 2:
        ctx.structure(path, "goal names a stage or a segment, not both: keep one")
        ok = False
    elif not kinds:
        ctx.structure(path, f"goal needs the stage or the segment to reach, e.g. {_EXAMPLE}")
        ok = False
    target = None
    if len(kinds) == 1:
        kind = kinds[0]
        what = "stage name" if kind == "stage" else "segment id"
        target = check_name(value[kind], join(path, kind), ctx, what)
        if target is not None:
            ctx.use("goal_stage" if kind == "stage" else "goal_segment", target, join(path, kind))
    within = (
        parse_within(value["within"], join(path, "within"), ctx, GOAL_WINDOW)
        if "within" in value
        else None
    )
    if not ok or target is None or within is None:
        return None
    return Goal("stage" if kinds[0] == "stage" else "segment", target, within)
