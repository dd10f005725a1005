"""Health: the holdout test, overlap figures summed over partitions, and each lint finding."""

from __future__ import annotations

import math

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from stream.cli.main import main
from stream.core.health.binomial import EXACT_UP_TO, holdout_test
from stream.core.health.figures import PartitionFigures, combine
from stream.core.health.history import HOUR_US, PartitionHistory, combine_history
from stream.core.health.lint import Thresholds, lint
from stream.testing.health import brute_force, history_brute_force

SEGMENTS = ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    ("members", "held", "share", "p_value"),
    [
        (10, 5, 0.5, 1.0),  # the likeliest count
        (10, 0, 0.5, 2 / 1024),  # both tails: 0 and 10
        (10, 1, 0.5, 22 / 1024),  # 0, 1, 9, 10
        # 0 (p = 0.1216) and every count from 4 up (p(4) = 0.0898; p(3) = 0.19 is likelier)
        (
            20,
            0,
            0.1,
            0.9**20 + sum(math.comb(20, k) * 0.1**k * 0.9 ** (20 - k) for k in range(4, 21)),
        ),
    ],
)
def test_exact_binomial(members: int, held: int, share: float, p_value: float) -> None:
    test = holdout_test(members, held, share)
    assert test.method == "exact binomial"
    assert test.p_value == pytest.approx(p_value, rel=1e-9)


def test_normal_approximation_above_the_exact_range() -> None:
    n = EXACT_UP_TO * 10
    centre = holdout_test(n, n // 10, 0.1)
    far = holdout_test(n, n // 10 + 120, 0.1)  # 4 standard deviations (30) above
    assert centre.method == far.method == "normal approximation"
    assert centre.p_value == pytest.approx(1.0)
    assert far.p_value == pytest.approx(math.erfc((120 - 0.5) / 30 / math.sqrt(2)))
    # Near the switch the two methods agree within the skew of a 10% tail at 3 sigma.
    exact, approx = holdout_test(1000, 130, 0.1), holdout_test(1001, 130, 0.1)
    assert exact.p_value == pytest.approx(approx.p_value, rel=0.2)


def test_no_holdout_configured_but_members_held_out() -> None:
    assert holdout_test(50, 0, 0.0).p_value == 1.0
    assert holdout_test(50, 3, 0.0).p_value == 0.0


memberships_st = st.dictionaries(
    st.text("xyz", min_size=1, max_size=4),
    st.dictionaries(st.sampled_from(SEGMENTS), st.booleans()),
    max_size=30,
)


@given(memberships_st, st.integers(1, 4))
def test_partitions_add_up_to_the_whole(memberships: dict[str, dict[str, bool]], n: int) -> None:
    parts = [
        brute_force({c: s for c, s in memberships.items() if hash(c) % n == p}, SEGMENTS)
        for p in range(n)
    ]
    as_parts = [
        PartitionFigures(f.sizes, f.held_out, {(x.a, x.b): x.both for x in f.pairs}, f.per_contact)
        for f in parts
    ]
    assert combine(SEGMENTS, as_parts) == brute_force(memberships, SEGMENTS)


def test_every_pair_is_listed_with_its_jaccard() -> None:
    figures = brute_force({"1": {"a": False, "b": False}, "2": {"a": False}, "3": {}}, SEGMENTS)
    assert [(p.a, p.b, p.both, p.jaccard) for p in figures.pairs] == [
        ("a", "b", 1, 0.5),
        ("a", "c", 0, 0.0),
        ("a", "d", 0, 0.0),
        ("b", "c", 0, 0.0),
        ("b", "d", 0, 0.0),
        ("c", "d", 0, 0.0),
    ]
    assert figures.contacts == 2
    assert figures.per_contact == {1: 1, 2: 1}


def _kinds(memberships: dict[str, dict[str, bool]], **kwargs: object) -> list[tuple[str, tuple]]:
    holdouts = kwargs.pop("holdouts", {})
    entered = kwargs.pop("entered", None)
    thresholds = Thresholds(**{"min_size": 2, "min_share": 0.01, **kwargs})  # type: ignore[arg-type]
    found = lint(brute_force(memberships, SEGMENTS), holdouts, thresholds, entered)  # type: ignore[arg-type]
    return [(f.kind, f.segments) for f in found]


def test_lint_findings() -> None:
    many = {str(i): {"a": False, "b": False} for i in range(10)}
    many["x"] = {"a": False, "c": False}
    kinds = _kinds(many, duplicate_jaccard=0.9, max_segments=8)
    assert kinds == [
        ("too_small", ("c",)),
        ("empty", ("d",)),
        ("near_duplicate", ("a", "b")),
    ]
    assert ("never_entered", ("d",)) in _kinds(many, entered={"a": 11})
    assert ("crowded", ()) in _kinds(many, max_segments=1)
    # The relative floor: 95% of the 11 contacts (10.45) is above b's 10 members.
    assert ("too_small", ("b",)) in _kinds(many, min_share=0.95)


def test_lint_holdouts() -> None:
    fair = {str(i): {"a": i % 10 == 0} for i in range(200)}
    assert ("holdout_off", ("a",)) not in _kinds(fair, holdouts={"a": 0.1})
    assert ("holdout_off", ("a",)) in _kinds(fair, holdouts={"a": 0.5})
    assert ("holdout_off", ("a",)) in _kinds(fair, holdouts={})  # held out, none configured
    assert ("holdout_off", ("a",)) not in _kinds(fair, holdouts=None)  # no rules: unchecked


def test_health_says_when_redis_does_not_answer() -> None:
    env = {"SEGSTREAM_REDIS_URL": "redis://127.0.0.1:1/0"}
    result = CliRunner().invoke(main, ["health"], env=env)
    assert result.exit_code == 3
    assert "redis://127.0.0.1:1/0 does not answer" in result.stderr


def test_history_sizes_are_derived_backwards_from_the_current_size() -> None:
    hour = HOUR_US
    parts = [
        PartitionHistory(
            sizes={"a": 3},
            entered_ever={"a": 5},
            buckets={10: {"a:e": 2}, 12: {"a:e": 2, "a:x": 1, "a:f": 1}},
        ),
        PartitionHistory(sizes={"a": 1}, buckets={11: {"a:e": 1}, 12: {"L:>lead": 1}}),
    ]
    history = combine_history(["a", "b"], parts, hour, 4)
    assert history.starts == tuple(t * hour for t in (9, 10, 11, 12))
    a = history.series["a"]
    assert a.entered == (0, 2, 1, 2)
    assert a.exited == (0, 0, 0, 1)
    assert a.flapped == (0, 0, 0, 1)
    assert a.size == (0, 2, 3, 4)
    assert history.series["b"].size == (0, 0, 0, 0)
    assert history.entered_ever == {"a": 5, "b": 0}


def test_history_brute_force_counts_entries_exits_flaps_and_moves() -> None:
    def change(contact: str, seq: int, at: str, **rest: object) -> dict[str, object]:
        kind = "lifecycle" if "to" in rest else "segment"
        return {"contact_id": contact, "seq": seq, "at": f"2026-09-01T{at}Z", "kind": kind, **rest}

    changes = [
        change("1", 1, "00:10:00", segment="a", change="entered"),
        change("1", 2, "00:40:00", segment="a", change="exited"),  # a flap: 30 min
        change("1", 2, "00:40:00", segment="a", change="exited"),  # a redelivery
        change("2", 1, "00:20:00", segment="a", change="entered"),
        change("2", 2, "02:30:00", segment="a", change="exited"),  # not a flap
        change("2", 3, "02:31:00", to="lead"),
    ]
    history = history_brute_force(changes, ["a"], HOUR_US, 3)
    a = history.series["a"]
    assert (a.entered, a.exited, a.flapped, a.size) == ((2, 0, 0), (1, 0, 1), (1, 0, 0), (1, 1, 0))
    assert history.moves == {("", "lead"): 1}
    assert history.stages == {"lead": 1}
