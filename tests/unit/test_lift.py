"""Holdout lift: the score intervals against published values, and the counters' sums."""

from __future__ import annotations

import pytest

from stream.core.health.lift import Group, goal_targets, lifts, newcombe, wilson
from stream.core.language.loader import load_dict
from stream.serving.lift import goal_spec, lift_answer
from stream.testing.lift import lift_brute_force

DAY_US = 86_400_000_000
RULES = load_dict(
    {
        "version": 1,
        "lifecycle": {
            "stages": ["lead", "customer", "fan"],
            "rules": [{"stage": "lead", "when": {"trait": "email", "exists": True}}],
        },
        "segments": [
            {"id": "buyers", "when": {"trait": "x", "exists": True}},
            {
                "id": "trial",
                "holdout": 0.5,
                "goal": {"stage": "customer", "within": "30d"},
                "when": {"trait": "y", "exists": True},
            },
            {
                "id": "cart",
                "goal": {"segment": "buyers", "within": "1d"},
                "when": {"trait": "z", "exists": True},
            },
        ],
    }
)


# Newcombe (1998), "Interval estimation for the difference between independent proportions",
# Statistics in Medicine 17: 873-890, tables I and II (Wilson "method 3" and "method 10").
@pytest.mark.parametrize(
    ("group", "expected"),
    [
        (Group(263, 81), (0.2553, 0.3662)),
        (Group(10, 0), (0.0, 0.2775)),
        (Group(29, 29), (0.8830, 1.0)),
    ],
)
def test_wilson_interval(group: Group, expected: tuple[float, float]) -> None:
    interval = wilson(group)
    assert interval is not None
    assert interval == pytest.approx(expected, abs=5e-5)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (Group(70, 56), Group(80, 48), (0.0524, 0.3339)),
        (Group(10, 9), Group(10, 3), (0.1705, 0.8090)),
        (Group(56, 5), Group(29, 0), (-0.0381, 0.1926)),
    ],
)
def test_newcombe_difference_interval(a: Group, b: Group, expected: tuple[float, float]) -> None:
    interval = newcombe(a, b)
    assert interval is not None
    assert interval == pytest.approx(expected, abs=5e-5)


def test_empty_groups_have_no_rate_or_interval() -> None:
    assert Group().rate is None and wilson(Group()) is None
    assert newcombe(Group(5, 1), Group()) is None


def test_goal_targets_are_the_stage_and_later_ones() -> None:
    trial, cart = RULES.segments[1].goal, RULES.segments[2].goal
    assert trial is not None and cart is not None
    assert goal_targets(trial, RULES) == ("customer", "fan")
    assert goal_targets(cart, RULES) == ("buyers",)
    assert goal_spec(RULES) == f"trial|s|customer,fan|{30 * DAY_US};cart|g|buyers|{DAY_US}"
    assert goal_spec(None) == ""


def test_lifts_add_up_partitions_and_answer() -> None:
    found = lifts(
        RULES,
        [{"trial:n0": 60, "trial:c0": 30, "trial:n1": 50}, {"trial:n0": 10, "trial:c1": 5}],
    )
    assert [f.segment.id for f in found] == ["trial", "cart"]
    trial = found[0]
    assert (trial.treated, trial.held_out) == (Group(70, 30), Group(50, 5))
    answer = lift_answer(trial)
    assert answer["goal"] == {
        "stage": "customer",
        "within_s": 30 * 86_400,
        "text": "becomes a customer (or a later stage) within 30 days",
    }
    assert answer["difference"] == pytest.approx(30 / 70 - 5 / 50, abs=1e-6)
    low, high = answer["difference_interval"]
    assert low < answer["difference"] < high
    assert lift_answer(found[1])["difference"] is None


def _seg(contact: str, seq: int, at: str, segment: str, change: str, held: bool = False) -> dict:
    return {"kind": "segment", "contact_id": contact, "seq": seq, "at": at,
            "segment": segment, "change": change, "holdout": held}  # fmt: skip


def _stage(contact: str, seq: int, at: str, to: str | None) -> dict:
    return {"kind": "lifecycle", "contact_id": contact, "seq": seq, "at": at, "to": to}


def test_brute_force_definition() -> None:
    changes = [
        # converted within the window; the re-entry is not a second cohort member
        _seg("a", 1, "2026-09-01T00:00:00Z", "trial", "entered"),
        _stage("a", 2, "2026-09-20T00:00:00Z", "fan"),
        _seg("a", 3, "2026-09-21T00:00:00Z", "trial", "exited"),
        _seg("a", 4, "2026-09-22T00:00:00Z", "trial", "entered"),
        # held out, reached the goal too late
        _seg("b", 1, "2026-09-01T00:00:00Z", "trial", "entered", held=True),
        _stage("b", 2, "2026-10-02T00:00:00Z", "customer"),
        # a customer already when entering
        _stage("c", 1, "2026-09-01T00:00:00Z", "customer"),
        _seg("c", 2, "2026-09-01T00:00:00Z", "trial", "entered"),
        # the goal segment entered within a day, and one that was left before entering
        _seg("d", 1, "2026-09-01T00:00:00Z", "cart", "entered"),
        _seg("d", 2, "2026-09-01T12:00:00Z", "buyers", "entered"),
        _seg("e", 1, "2026-09-01T00:00:00Z", "buyers", "entered"),
        _seg("e", 2, "2026-09-01T01:00:00Z", "buyers", "exited"),
        _seg("e", 3, "2026-09-01T02:00:00Z", "cart", "entered"),
    ]
    assert lift_brute_force(changes, RULES) == {
        "trial:n0": 1, "trial:c0": 1, "trial:n1": 1, "trial:a": 1, "cart:n0": 2, "cart:c0": 1,
    }  # fmt: skip
