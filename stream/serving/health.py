"""Segment health from the served memberships: overlap of every pair and the lint findings."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from stream.core.health.figures import Figures, combine
from stream.core.health.history import History
from stream.core.health.lint import HOLDOUT_SIGNIFICANCE, Thresholds, lint
from stream.core.language.ast import RuleSet
from stream.core.timefmt import format_ts
from stream.serving.history import churn, read_history
from stream.serving.lift import read_lift
from stream.serving.store import Store
from stream.serving.tokens import format_position

# Churn and flapping cover the newest day of hour buckets (by event time: the newest bucket
# any partition has, so a replay of old data still shows its last day).
CHURN_HOURS = 24


async def read_figures(
    store: Store, partitions: int, rules: RuleSet | None, most: int
) -> tuple[dict[int, int], Figures]:
    """The position read and the figures of the rules' segments (or all Redis has)."""
    read = await store.overlap(partitions, most)
    offsets = {p: offset for p, (offset, _) in enumerate(read) if offset is not None}
    parts = [figures for _, figures in read]
    if rules is not None:
        ids = [s.id for s in rules.segments]
    else:
        ids = sorted({s for part in parts for s in part.sizes})
    return offsets, combine(ids, parts)


async def read_health(
    store: Store, partitions: int, rules: RuleSet | None, thresholds: Thresholds
) -> dict[str, Any]:
    """The health answer, from one overlap step, one history step and one read of the lift
    counters per partition."""
    offsets, figures = await read_figures(store, partitions, rules, thresholds.max_segments)
    _, history = await read_history(store, partitions, rules, "hour", CHURN_HOURS)
    lift = await read_lift(store, partitions, rules)
    return health_answer(offsets, figures, rules, thresholds, history, lift)


def health_answer(
    offsets: dict[int, int],
    figures: Figures,
    rules: RuleSet | None,
    thresholds: Thresholds,
    history: History,
    lift: list[dict[str, Any]],
) -> dict[str, Any]:
    """The JSON answer of `GET /v1/health` and `segstream health --json`.

    Holdouts are only checked, and lift only shown, with the rules (they give the configured
    shares and the goals); `lift` is serving.lift's answer.
    """
    shares = {s.id: s.holdout for s in rules.segments} if rules is not None else None
    findings = lint(figures, shares, thresholds, history.entered_ever)
    return {
        "contacts": figures.contacts,
        "segments": [
            {
                "id": s,
                "size": figures.sizes[s],
                "held_out": figures.held_out[s],
                "holdout": None if shares is None else shares[s],
            }
            for s in figures.segments
        ],
        "overlap": [
            {"a": p.a, "b": p.b, "both": p.both, "jaccard": round(p.jaccard, 6)}
            for p in figures.pairs
        ],
        "memberships_per_contact": {str(k): n for k, n in figures.per_contact.items()},
        "findings": [asdict(f) | {"segments": list(f.segments)} for f in findings],
        "thresholds": asdict(thresholds) | {"holdout_significance": HOLDOUT_SIGNIFICANCE},
        "churn": {
            "hours": CHURN_HOURS,
            "since": format_ts(history.starts[0]) if history.starts else None,
            "segments": churn(history),
        },
        "lift": lift,
        "position": format_position(offsets),
    }
