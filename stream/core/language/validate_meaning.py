"""Checks across a whole definition file: duplicate ids, unknown names, and dependency cycles."""

from __future__ import annotations

from collections.abc import Sequence

from stream.core.language.validate_context import LIFECYCLE, Context, did_you_mean, join

LIFECYCLE_LABEL = "(lifecycle)"


def check_meaning(ctx: Context) -> None:
    """Add to `ctx` every problem that needs the whole file: duplicates, references, cycles."""
    if ctx.segment_ids is not None:
        _duplicates(ctx.segment_ids, "segments", "segment id", ctx)
    if ctx.score_ids is not None:
        _duplicates(ctx.score_ids, "scores", "score id", ctx)
    if isinstance(ctx.stages, list):
        seen: set[str] = set()
        for index, stage in enumerate(ctx.stages):
            if stage in seen:
                ctx.meaning_problem(
                    f"lifecycle.stages[{index}]", f"stage {stage!r} is listed twice"
                )
            seen.add(stage)
    _references(ctx)
    _cycles(ctx)


def _duplicates(ids: list[tuple[str, int]], section: str, what: str, ctx: Context) -> None:
    first: dict[str, int] = {}
    for name, index in ids:
        if name in first:
            ctx.meaning_problem(
                f"{section}[{index}].id",
                f"duplicate {what} {name!r}: {section}[{first[name]}] has it too; "
                "ids must be unique",
            )
        else:
            first[name] = index


def _first_index(ids: Sequence[tuple[str, int]]) -> dict[str, int]:
    first: dict[str, int] = {}
    for name, index in ids:
        first.setdefault(name, index)
    return first


def _references(ctx: Context) -> None:
    segments = None if ctx.segment_ids is None else _first_index(ctx.segment_ids)
    scores = None if ctx.score_ids is None else _first_index(ctx.score_ids)
    for ref in ctx.refs:
        if ref.kind == "segment" and segments is not None and ref.name not in segments:
            ctx.meaning_problem(
                ref.path, f"unknown segment {ref.name!r}{did_you_mean(ref.name, segments)}"
            )
        elif ref.kind == "score" and scores is not None and ref.name not in scores:
            hint = did_you_mean(ref.name, scores) if scores else ": no scores are defined"
            ctx.meaning_problem(ref.path, f"unknown score {ref.name!r}{hint}")
        elif ref.kind == "goal_segment" and segments is not None:
            own = next((name for name, index in ctx.segment_ids or [] if index == ref.owner), None)
            if ref.name == own:
                ctx.meaning_problem(
                    ref.path, "a segment cannot be its own goal: name another segment or a stage"
                )
            elif ref.name not in segments:
                ctx.meaning_problem(
                    ref.path, f"unknown segment {ref.name!r}{did_you_mean(ref.name, segments)}"
                )
        elif ref.kind == "goal_stage":
            if ctx.stages is None:
                ctx.meaning_problem(
                    ref.path,
                    f"there is no lifecycle, so no stage {ref.name!r} to reach: "
                    "add a lifecycle section with stages, or make the goal a segment",
                )
            elif isinstance(ctx.stages, list) and ref.name not in ctx.stages:
                ctx.meaning_problem(
                    ref.path,
                    f"unknown stage {ref.name!r}{did_you_mean(ref.name, ctx.stages)}; "
                    f"the stages are {', '.join(ctx.stages)}",
                )
        elif ref.kind in ("stage", "rule_stage"):
            if ctx.stages is None:
                ctx.meaning_problem(
                    ref.path,
                    f"there is no lifecycle, so no stage {ref.name!r}: "
                    "add a lifecycle section with stages, or remove the stage test",
                )
            elif isinstance(ctx.stages, list) and ref.name not in ctx.stages:
                ctx.meaning_problem(
                    ref.path,
                    f"unknown stage {ref.name!r}{did_you_mean(ref.name, ctx.stages)}; "
                    f"the stages are {', '.join(ctx.stages)}",
                )


def _graph(ctx: Context) -> dict[int, list[int]]:
    """Who depends on whom: a segment on the segments it tests and on the lifecycle if it
    tests the stage; the lifecycle on the segments its rules test. Nodes are segment
    indexes and LIFECYCLE."""
    segments = _first_index(ctx.segment_ids or [])
    edges: dict[int, set[int]] = {index: set() for index in segments.values()}
    has_lifecycle = isinstance(ctx.stages, list)
    if has_lifecycle:
        edges[LIFECYCLE] = set()
    for ref in ctx.refs:
        if ref.kind == "segment" and ref.name in segments:
            edges.setdefault(ref.owner, set()).add(segments[ref.name])
        elif ref.kind == "stage" and has_lifecycle:
            edges.setdefault(ref.owner, set()).add(LIFECYCLE)
    return {node: sorted(targets, key=_order) for node, targets in edges.items()}


def _order(node: int) -> float:
    """File order of nodes: segments by position, the lifecycle after them."""
    return float("inf") if node == LIFECYCLE else node


def _on_or_before_cycle(graph: dict[int, list[int]]) -> set[int]:
    """The nodes from which a cycle can be reached."""
    live = set(graph)
    changed = True
    while changed:
        changed = False
        for node in list(live):
            if not any(target in live for target in graph[node]):
                live.discard(node)
                changed = True
    return live


def _cycles(ctx: Context) -> None:
    """Report cycles one at a time, each at its first segment in file order, taking the
    reported cycle's edges out each time so that every reference in a cycle is reported."""
    graph = _graph(ctx)
    while live := _on_or_before_cycle(graph):
        node = min(live, key=_order)
        walk: list[int] = []
        while node not in walk:
            walk.append(node)
            node = next(target for target in graph[node] if target in live)
        cycle = walk[walk.index(node) :]
        start = cycle.index(min(cycle, key=_order))
        cycle = cycle[start:] + cycle[:start]
        for source, target in zip(cycle, [*cycle[1:], cycle[0]], strict=True):
            graph[source].remove(target)
        _report_cycle(cycle, ctx)


def _report_cycle(cycle: list[int], ctx: Context) -> None:
    names = {index: name for name, index in ctx.segment_ids or []}
    labels = [LIFECYCLE_LABEL if node == LIFECYCLE else names[node] for node in cycle]
    chain = " -> ".join([*labels, labels[0]])
    if cycle[0] != LIFECYCLE:
        ctx.meaning_problem(join(f"segments[{cycle[0]}]", "when"), f"cycle: {chain}")
        return
    # Only the lifecycle itself: one of its rules tests the stage.
    path = next(r.path for r in ctx.refs if r.kind == "stage" and r.owner == LIFECYCLE)
    ctx.meaning_problem(path, f"a lifecycle rule cannot test the stage (cycle: {chain})")
