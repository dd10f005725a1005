"""Segment health from the served memberships: overlap of every pair and the lint findings."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from stream.core.health.figures import Figures, combine
from stream.core.health.lint import HOLDOUT_SIGNIFICANCE, Thresholds, lint
from stream.core.language.ast import RuleSet
from stream.serving.store import Store
from stream.serving.tokens import format_position

# What the answer says while the materialiser keeps no history: honest, not zeros.
NO_HISTORY = "churn and flapping need the materialiser's per-interval history (not kept yet)"


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


def health_answer(
    offsets: dict[int, int], figures: Figures, rules: RuleSet | None, thresholds: Thresholds
) -> dict[str, Any]:
    """The JSON answer of `GET /v1/health` and `segstream health --json`.

    Holdouts are only checked with the rules (they give the configured shares).
    """
    shares = {s.id: s.holdout for s in rules.segments} if rules is not None else None
    findings = lint(figures, shares, thresholds)
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
        "churn": None,
        "flapping": None,
        "history": NO_HISTORY,
        "position": format_position(offsets),
    }
