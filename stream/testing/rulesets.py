"""Synthetic definition files for benchmarks: a wide rule set, and the smallest one."""

from __future__ import annotations

import random
from typing import Any

from stream.testing.generate import INDUSTRIES, PAGES

WINDOWS = ["1d", "7d", "14d", "30d", "90d"]


def minimal_rules() -> dict[str, Any]:
    """One segment on one top-level trait: replay's per-event cost with next to no rules.

    Every event still pays for decoding, validation, its contact's state, the duplicate
    check and the clock, so no useful rule set runs much faster.
    """
    return {
        "version": 1,
        "segments": [{"id": "c_level", "when": {"trait": "seniority", "eq": "c_level"}}],
    }


def wide_rules(segments: int = 100, seed: int = 7) -> dict[str, Any]:
    """A definition document with `segments` segments mixing every condition kind."""
    rng = random.Random(seed)
    defined: list[str] = []
    items: list[dict[str, Any]] = []
    for i in range(segments):
        sid = f"seg_{i:03d}"
        when = _condition(rng, defined)
        items.append({"id": sid, "when": when})
        defined.append(sid)
    return {
        "version": 1,
        "scores": [
            {
                "id": "engagement",
                "within": "90d",
                "rules": [
                    {"event": "email_open", "points": 1},
                    {"event": "page_view", "where": {"path": "/pricing"}, "points": 5},
                    {"event": "content_download", "points": 10},
                ],
            }
        ],
        "lifecycle": {
            "stages": ["subscriber", "lead", "mql", "customer"],
            "rules": [
                {"stage": "lead", "when": {"trait": "email", "exists": True}},
                {"stage": "mql", "when": {"score": "engagement", "gte": 30}},
                {"stage": "customer", "when": {"event": "purchase"}},
            ],
        },
        "segments": items,
    }


def _condition(rng: random.Random, defined: list[str]) -> dict[str, Any]:
    kind = rng.randrange(6)
    if kind == 0:
        return {"trait": "company.industry", "in": rng.sample(INDUSTRIES, 2)}
    if kind == 1:
        return {"trait": "company.employees", "gte": rng.choice([10, 50, 200, 1000])}
    if kind == 2:
        return {
            "event": "page_view",
            "where": {"path": rng.choice(PAGES)},
            "within": rng.choice(WINDOWS),
            "count": {"gte": rng.randrange(1, 4)},
        }
    if kind == 3:
        return {
            "not": {"event": rng.choice(["login", "email_open"]), "within": rng.choice(WINDOWS)}
        }
    if kind == 4:
        return {"score": "engagement", "gte": rng.choice([5, 20, 50])}
    if defined:
        return {
            "all": [
                {"in_segment": rng.choice(defined)},
                {"event": "email_click", "within": rng.choice(WINDOWS)},
            ]
        }
    return {"trait": "seniority", "eq": "c_level"}
