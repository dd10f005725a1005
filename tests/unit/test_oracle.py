"""The test oracle itself, proven right on small hand-worked scenarios."""

from __future__ import annotations

import math
from typing import Any

import pytest

from stream.core.language.ast import Condition, RuleSet, ScoreDef
from tests.support import (
    DAY,
    HOUR,
    MINUTE,
    all_,
    any_,
    behaviour,
    event,
    identify,
    in_segment,
    lifecycle,
    not_,
    pred,
    ruleset,
    score_rule,
    score_test,
    stage_test,
    trait,
    us,
)
from tests.support.oracle import (
    MISSING,
    Contact,
    Evaluation,
    format_at,
    held_out,
    holds,
    lookup,
    oracle_changes,
    oracle_log,
    run_oracle,
)

T0 = us("2026-11-20T10:00:00Z")
V = "test0rules00"


def seg(
    contact: str,
    segment: str,
    change: str,
    at: int,
    reason: str,
    cause: str | None,
    seq: int,
    holdout: bool = False,
) -> dict[str, Any]:
    return {
        "kind": "segment",
        "contact_id": contact,
        "segment": segment,
        "change": change,
        "at": format_at(at),
        "reason": reason,
        "cause_event_id": cause,
        "rules_version": V,
        "seq": seq,
        "holdout": holdout,
    }


def life(
    contact: str,
    from_: str | None,
    to: str | None,
    at: int,
    reason: str,
    cause: str | None,
    seq: int,
) -> dict[str, Any]:
    return {
        "kind": "lifecycle",
        "contact_id": contact,
        "from": from_,
        "to": to,
        "at": format_at(at),
        "reason": reason,
        "cause_event_id": cause,
        "rules_version": V,
        "seq": seq,
    }


def brief(messages: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """(segment or from->to, change, at offset from T0, reason, cause) for compact expectations."""
    out = []
    for m in messages:
        what = m["segment"] if m["kind"] == "segment" else f"{m['from']}->{m['to']}"
        out.append((what, m.get("change"), m["at"], m["reason"], m["cause_event_id"]))
    return out


def at(offset: int) -> str:
    return format_at(T0 + offset)


# --- values ------------------------------------------------------------------------------------

OPERATOR_CASES: list[tuple[str, Any, Any, bool]] = [
    # type-aware equality
    ("eq", 1, 1.0, True),
    ("eq", 1, True, False),
    ("eq", True, True, True),
    ("eq", "1", 1, False),
    ("eq", "saas", "saas", True),
    ("eq", "saas", "SaaS", False),
    ("eq", [1, "a"], [1.0, "a"], True),
    ("eq", {"a": 1}, {"a": 1.0}, True),
    ("ne", "free", 5, True),
    ("ne", "free", "free", False),
    ("ne", 1, 1.0, False),
    ("ne", "free", MISSING, False),
    ("in", ("saas", "software"), "software", True),
    ("in", (1, 2), 2.0, True),
    ("in", (1, 2), True, False),
    ("not_in", ("saas",), "retail", True),
    ("not_in", ("saas",), 3, True),
    ("not_in", ("saas",), MISSING, False),
    # ordering: number with number, string with string, never bool
    ("gt", 10, 11, True),
    ("gt", 10, 10.0, False),
    ("gte", 10, 10.0, True),
    ("gt", 10, "11", False),
    ("gt", 0, True, False),
    ("lt", "m", "a", True),
    ("lte", "b", "b", True),
    ("lt", 5, None, False),
    ("between", (1, 3), 3, True),
    ("between", (1, 3), 1.0, True),
    ("between", (1, 3), 3.5, False),
    ("between", ("a", "c"), "b", True),
    ("between", (1, 3), "2", False),
    # exists and missing
    ("exists", True, MISSING, False),
    ("exists", False, MISSING, True),
    ("exists", True, 0, True),
    ("exists", False, "", False),
    ("eq", None, MISSING, False),
    # contains, starts_with, ends_with, matches
    ("contains", "pro", "enterprise pro", True),
    ("contains", "x", ["x", "y"], True),
    ("contains", 1, [1.0, 2], True),
    ("contains", 1, [True], False),
    ("contains", 1, "1", False),
    ("contains", "a", {"a": 1}, False),
    ("starts_with", "ent", "enterprise", True),
    ("starts_with", "ent", 5, False),
    ("ends_with", "ise", "enterprise", True),
    ("matches", r"^\d+$", "123", True),
    ("matches", r"\d", "a1b", True),
    ("matches", r"\d", 1, False),
]


@pytest.mark.parametrize(("op", "operand", "value", "expected"), OPERATOR_CASES)
def test_operators(op: str, operand: Any, value: Any, expected: bool) -> None:
    assert holds(pred(op, operand), value) is expected


IGNORE_CASE_CASES: list[tuple[str, Any, Any, bool]] = [
    ("eq", "SaaS", "saas", True),
    ("eq", "strasse", "Straße", True),
    ("ne", "SaaS", "saas", False),
    ("in", ("SaaS", "Software"), "software", True),
    ("not_in", ("SaaS",), "saas", False),
    ("contains", "PRO", "enterprise pro", True),
    ("contains", "X", ["x", "y"], True),
    ("starts_with", "ENT", "enterprise", True),
    ("ends_with", "ISE", "Enterprise", True),
    ("gt", "B", "c", True),
    ("between", ("A", "C"), "b", True),
    ("matches", "^saas$", "SAAS", True),
    ("eq", 1, 1.0, True),
]


@pytest.mark.parametrize(("op", "operand", "value", "expected"), IGNORE_CASE_CASES)
def test_ignore_case(op: str, operand: Any, value: Any, expected: bool) -> None:
    assert holds(pred(op, operand, ignore_case=True), value) is expected


@pytest.mark.parametrize(
    ("obj", "path", "expected"),
    [
        ({"a": {"b": 1}}, ("a", "b"), 1),
        ({"a": {"b": None}}, ("a", "b"), MISSING),
        ({"a": None}, ("a", "b"), MISSING),
        ({"a": 5}, ("a", "b"), MISSING),
        ({"a": [1]}, ("a", "0"), MISSING),
        ({}, ("a",), MISSING),
        ({"a": False}, ("a",), False),
    ],
)
def test_lookup(obj: dict[str, Any], path: tuple[str, ...], expected: Any) -> None:
    found = lookup(obj, path)
    assert (found is MISSING) if expected is MISSING else (found == expected)


@pytest.mark.parametrize(
    ("offset", "text"),
    [
        (0, "2026-11-20T10:00:00Z"),
        (250_000, "2026-11-20T10:00:00.250Z"),
        (1, "2026-11-20T10:00:00.000001Z"),
        (123_456, "2026-11-20T10:00:00.123456Z"),
        (7 * DAY, "2026-11-27T10:00:00Z"),
    ],
)
def test_format_at(offset: int, text: str) -> None:
    assert format_at(T0 + offset) == text


# --- aggregates and scores, evaluated directly ---------------------------------------------------


def evaluate_at(rules: RuleSet, events: list[dict[str, Any]], now: int) -> dict[str, bool]:
    contact = Contact("c1", applied=events)
    ev = Evaluation(rules, contact, now)
    return {s.id: ev.segment(s.id) for s in rules.segments}


AMOUNTS: list[Any] = [10, 2.5, "7", True, None, 1.0]  # only 10, 2.5 and 1.0 are numbers
AGGREGATE_CASES: list[tuple[str, Condition, bool]] = [
    ("count", behaviour("buy", op="eq", operand=6), True),
    ("sum", behaviour("buy", agg="sum", prop="amount", op="eq", operand=13.5), True),
    ("avg", behaviour("buy", agg="avg", prop="amount", op="eq", operand=4.5), True),
    ("min", behaviour("buy", agg="min", prop="amount", op="eq", operand=1), True),
    ("max", behaviour("buy", agg="max", prop="amount", op="eq", operand=10), True),
    # 10, 2.5, "7", True, 1.0: null skipped, True and "7" are their own values
    ("distinct", behaviour("buy", agg="distinct", prop="amount", op="eq", operand=5), True),
    ("sum none", behaviour("login", agg="sum", prop="amount", op="eq", operand=0), True),
    ("avg none", behaviour("login", agg="avg", prop="amount", op="ne", operand=0), False),
    ("min none", behaviour("login", agg="min", prop="amount", op="lt", operand=1e9), False),
    ("count none", behaviour("login", op="eq", operand=0), True),
    ("where", behaviour("buy", where_={"amount": ("gt", 2)}, op="eq", operand=2), True),
    ("where eq", behaviour("buy", where_={"amount": 1}, op="eq", operand=1), True),  # not True
]


@pytest.mark.parametrize(("name", "when", "expected"), AGGREGATE_CASES)
def test_aggregates(name: str, when: Condition, expected: bool) -> None:
    events = [event(f"e{i}", "c1", "buy", T0 + i, {"amount": a}) for i, a in enumerate(AMOUNTS)]
    assert evaluate_at(ruleset({"s": when}), events, T0 + DAY) == {"s": expected}


def test_distinct_is_type_aware() -> None:
    values: list[Any] = [1, 1.0, "1", True, [1], [1.0], {"a": 1}, None]
    events = [event(f"e{i}", "c1", "v", T0, {"x": v}) for i, v in enumerate(values)]
    when = behaviour("v", agg="distinct", prop="x", op="eq", operand=5)
    assert evaluate_at(ruleset({"s": when}), events, T0) == {"s": True}


@pytest.mark.parametrize(
    ("age", "counted"),
    [(0, True), (HOUR - 1, True), (HOUR, False), (HOUR + 1, False), (-1, False)],
)
def test_window_boundary(age: int, counted: bool) -> None:
    """An event exactly W old is out; an event in the future does not count yet."""
    rules = ruleset({"s": behaviour("v", within=HOUR)})
    assert evaluate_at(rules, [event("e", "c1", "v", T0)], T0 + age) == {"s": counted}


def test_score_first_matching_rule_and_fsum() -> None:
    score = ScoreDef(
        "eng",
        (
            score_rule("view", 0.1, {"path": "/pricing"}),
            score_rule("view", 100),
            score_rule("open", -1),
        ),
        within=DAY,
    )
    pricing = [event(f"p{i}", "c1", "view", T0 + i, {"path": "/pricing"}) for i in range(10)]
    rules = ruleset({"one": score_test("eng", "eq", 1)}, scores=[score])
    assert evaluate_at(rules, pricing, T0 + HOUR) == {"one": True}
    assert math.fsum([0.1] * 10) == 1.0 and sum([0.1] * 10) != 1.0
    # every /pricing view matched its first rule only; one other view is worth 100
    other = [*pricing, event("o", "c1", "view", T0, {"path": "/blog"})]
    rules = ruleset({"s": score_test("eng", "eq", 101)}, scores=[score])
    assert evaluate_at(rules, other, T0 + HOUR) == {"s": True}
    # the window: a day later every point has left, and the score is 0, never missing
    rules = ruleset({"s": score_test("eng", "eq", 0)}, scores=[score])
    assert evaluate_at(rules, other, T0 + DAY + 10) == {"s": True}


# --- the replay loop ---------------------------------------------------------------------------

PRICING = behaviour("page_view", where_={"path": "/pricing"}, within=7 * DAY, op="gte", operand=3)


def pricing_view(eid: str, offset: int, contact: str = "c1") -> dict[str, Any]:
    return event(eid, contact, "page_view", T0 + offset, {"path": "/pricing"})


def test_pricing_intent_exits_when_third_newest_view_is_7_days_old() -> None:
    rules = ruleset({"pricing_intent": PRICING})
    events = [
        pricing_view("e1", 0),
        pricing_view("e2", DAY),
        event("x", "c1", "page_view", T0 + DAY + HOUR, {"path": "/blog"}),
        pricing_view("e3", 2 * DAY),
        pricing_view("e4", 3 * DAY),
    ]
    out = oracle_changes(rules, events, until_us=T0 + 30 * DAY)
    # views at 0,1,2,3 d: the third-newest (1 d) is 7 days old at 8 d
    assert out == {
        "c1": [
            seg("c1", "pricing_intent", "entered", T0 + 2 * DAY, "event", "e3", 1),
            seg("c1", "pricing_intent", "exited", T0 + 8 * DAY, "time", None, 2),
        ]
    }


def test_deadline_fires_before_an_event_at_the_same_instant() -> None:
    rules = ruleset({"pricing_intent": PRICING})
    events = [
        pricing_view("e1", 0),
        pricing_view("e2", 1),
        pricing_view("e3", 2),
        pricing_view("e4", 7 * DAY),  # exactly when e1 leaves: out first, then in again
    ]
    out = oracle_changes(rules, events)
    assert brief(out["c1"]) == [
        ("pricing_intent", "entered", at(2), "event", "e3"),
        ("pricing_intent", "exited", at(7 * DAY), "time", None),
        ("pricing_intent", "entered", at(7 * DAY), "event", "e4"),
    ]


def test_deadlines_wait_for_time_to_pass() -> None:
    """Without `until`, nothing after the last event fires; another contact's event moves time."""
    rules = ruleset({"pricing_intent": PRICING})
    views = [pricing_view("e1", 0), pricing_view("e2", 1), pricing_view("e3", 2)]
    assert [m["change"] for m in oracle_changes(rules, views)["c1"]] == ["entered"]
    other = event("o", "c2", "login", T0 + 9 * DAY)
    out = oracle_changes(rules, [*views, other])
    assert brief(out["c1"])[-1] == ("pricing_intent", "exited", at(7 * DAY), "time", None)
    assert "c2" not in out


def test_inactivity_enters_exactly_14_days_after_last_login() -> None:
    rules = ruleset({"dormant": not_(behaviour("login", within=14 * DAY))})
    events = [event("l1", "c1", "login", T0), event("l2", "c1", "login", T0 + 5 * DAY)]
    out = oracle_changes(rules, events, until_us=T0 + 30 * DAY)
    assert out == {"c1": [seg("c1", "dormant", "entered", T0 + 19 * DAY, "time", None, 1)]}


def test_inactivity_holds_from_a_first_event_that_is_no_login() -> None:
    rules = ruleset({"dormant": not_(behaviour("login", within=14 * DAY))})
    events = [
        identify("i1", "c1", T0, {"email": "a@b.c"}),
        event("l1", "c1", "login", T0 + DAY),
    ]
    out = oracle_changes(rules, events, until_us=T0 + 15 * DAY)
    assert brief(out["c1"]) == [
        ("dormant", "entered", at(0), "profile", "i1"),
        ("dormant", "exited", at(DAY), "event", "l1"),
        ("dormant", "entered", at(15 * DAY), "time", None),
    ]


def test_late_event_counts_where_its_timestamp_falls_and_at_is_now() -> None:
    rules = ruleset({"twice": behaviour("page_view", within=7 * DAY, op="gte", operand=2)})
    events = [
        event("e1", "c1", "page_view", T0 + 10 * DAY),
        event("e2", "c1", "page_view", T0 + 2 * DAY),  # late and out of the window (3d, 10d]
        event("e3", "c1", "page_view", T0 + 4 * DAY),  # late, in the window
    ]
    out = oracle_changes(rules, events, until_us=T0 + 20 * DAY)
    assert brief(out["c1"]) == [
        ("twice", "entered", at(10 * DAY), "event", "e3"),
        ("twice", "exited", at(11 * DAY), "time", None),
    ]


def test_late_first_event_of_a_contact_is_placed_by_its_timestamp() -> None:
    rules = ruleset({"recent": behaviour("login", within=DAY), "ever": behaviour("login")})
    events = [event("a", "c2", "email_open", T0 + 10 * DAY), event("b", "c1", "login", T0)]
    out = oracle_changes(rules, events)
    assert brief(out["c1"]) == [("ever", "entered", at(10 * DAY), "event", "b")]


def test_duplicate_within_horizon_changes_nothing_not_even_now() -> None:
    rules = ruleset(
        {"twice": behaviour("login", op="gte", operand=2), "hot": behaviour("v", within=HOUR)}
    )
    events = [
        event("h", "c2", "v", T0),
        event("e1", "c1", "login", T0),
        event("e1", "c1", "login", T0 + 2 * HOUR),  # same id: a retry, whatever it says
        event("e1", "c1", "login", T0),
    ]
    out = oracle_changes(rules, events)
    assert brief(out["c2"]) == [("hot", "entered", at(0), "event", "h")]  # `now` never moved
    assert "c1" not in out


def test_same_event_id_for_another_contact_is_no_duplicate() -> None:
    rules = ruleset({"ever": behaviour("login")})
    events = [event("e1", "c1", "login", T0), event("e1", "c2", "login", T0)]
    assert sorted(oracle_changes(rules, events)) == ["c1", "c2"]


@pytest.mark.parametrize(
    ("now_offset", "applied_again"),
    [(24 * HOUR - 1, False), (24 * HOUR, True), (30 * HOUR, True)],
)
def test_retry_after_the_horizon_is_applied_again(now_offset: int, applied_again: bool) -> None:
    rules = ruleset({"twice": behaviour("login", op="gte", operand=2)})
    events = [
        event("e1", "c1", "login", T0),
        event("o", "c2", "email_open", T0 + now_offset),
        event("e1", "c1", "login", T0),
    ]
    out = oracle_changes(rules, events)
    expected = [("twice", "entered", at(now_offset), "event", "e1")] if applied_again else []
    assert brief(out.get("c1", [])) == expected


@pytest.mark.parametrize(
    ("later", "applied_again"),
    [(MINUTE, False), (24 * HOUR - 1, False), (24 * HOUR, True), (40 * DAY, True)],
)
def test_a_resent_old_event_is_a_duplicate_for_a_horizon_after_it_was_applied(
    later: int, applied_again: bool
) -> None:
    """The horizon counts from `now` when the contact applied it, not from its timestamp: a
    30-day-old event (applied at `now`, 30 days after its time) re-sent a minute later."""
    rules = ruleset({"twice": behaviour("login", op="gte", operand=2)})
    now = T0 + 30 * DAY
    events = [
        event("o", "c2", "email_open", now),
        event("e1", "c1", "login", T0),
        event("p", "c2", "email_open", now + later),
        event("e1", "c1", "login", T0),
    ]
    oracle = run_oracle(rules, events)
    expected = [("twice", "entered", at(30 * DAY + later), "event", "e1")]
    assert brief(oracle.out.get("c1", [])) == (expected if applied_again else [])
    assert len(oracle.duplicates) == (0 if applied_again else 1)
    assert oracle.reapplied == (1 if applied_again else 0)


def test_a_resend_with_another_timestamp_is_a_duplicate_whatever_the_timestamp() -> None:
    rules = ruleset({"twice": behaviour("login", op="gte", operand=2)})
    events = [
        event("e1", "c1", "login", T0 + DAY),
        event("e1", "c1", "login", T0 - 40 * DAY),  # as if re-sent with a wrong, old time
        event("e1", "c1", "login", T0 + 3 * DAY),  # in the future of the contact's clock
    ]
    oracle = run_oracle(rules, events)
    assert oracle.out == {} and len(oracle.duplicates) == 2 and oracle.now == T0 + DAY


def test_an_event_applied_again_starts_its_horizon_anew() -> None:
    rules = ruleset({"count": behaviour("login", op="gte", operand=3)})
    events = [
        event("e1", "c1", "login", T0),
        event("o", "c2", "email_open", T0 + DAY),
        event("e1", "c1", "login", T0),  # a horizon later: applied again at T0 + 1 d
        event("p", "c2", "email_open", T0 + 2 * DAY - 1),
        event("e1", "c1", "login", T0),  # less than a horizon after that: a duplicate
        event("q", "c2", "email_open", T0 + 2 * DAY),
        event("e1", "c1", "login", T0),  # a horizon after the second application
    ]
    oracle = run_oracle(rules, events)
    assert brief(oracle.out["c1"]) == [("count", "entered", at(2 * DAY), "event", "e1")]
    assert [at for _, at in oracle.duplicates] == [T0 + DAY]


@pytest.mark.parametrize(("horizon", "applied_again"), [(HOUR, True), (HOUR + 1, False)])
def test_custom_horizon(horizon: int, applied_again: bool) -> None:
    rules = ruleset({"twice": behaviour("login", op="gte", operand=2)})
    events = [
        event("e1", "c1", "login", T0),
        event("o", "c2", "email_open", T0 + HOUR),
        event("e1", "c1", "login", T0),
    ]
    out = oracle_changes(rules, events, horizon_us=horizon)
    expected = [seg("c1", "twice", "entered", T0 + HOUR, "event", "e1", 1)]
    assert out.get("c1", []) == (expected if applied_again else [])


def test_identify_merges_top_level_replacing_objects_and_removing_nulls() -> None:
    rules = ruleset(
        {
            "saas": trait("company.industry", "eq", "saas"),
            "big": trait("company.size", "gte", 50),
            "no_plan": trait("plan", "exists", False),
            "tagged": trait("tags", "contains", "vip"),
        }
    )
    events = [
        identify("i1", "c1", T0, {"company": {"industry": "saas", "size": 10}, "plan": "pro"}),
        identify("i2", "c1", T0 + 1, {"company": {"size": 50}, "tags": ["vip"]}),
        identify("i3", "c1", T0 + 2, {"plan": None, "other": 1}),
        identify("i4", "c1", T0 + 3, {"company": {"industry": "saas", "size": None}}),
        identify("i5", "c1", T0 + 4, {"company": None, "tags": None}),
    ]
    out = oracle_changes(rules, events)
    assert brief(out["c1"]) == [
        ("saas", "entered", at(0), "profile", "i1"),
        ("big", "entered", at(1), "profile", "i2"),
        ("saas", "exited", at(1), "profile", "i2"),  # company replaced as a whole
        ("tagged", "entered", at(1), "profile", "i2"),
        ("no_plan", "entered", at(2), "profile", "i3"),
        ("big", "exited", at(3), "profile", "i4"),  # nested null is missing
        ("saas", "entered", at(3), "profile", "i4"),
        ("saas", "exited", at(4), "profile", "i5"),
        ("tagged", "exited", at(4), "profile", "i5"),
    ]


def test_identify_applies_in_arrival_order_not_timestamp_order() -> None:
    rules = ruleset({"b_plan": trait("plan", "eq", "b")})
    events = [
        identify("i1", "c1", T0 + DAY, {"plan": "a"}),
        identify("i2", "c1", T0, {"plan": "b"}),  # late, but the latest merge
    ]
    assert brief(oracle_changes(rules, events)["c1"]) == [
        ("b_plan", "entered", at(DAY), "profile", "i2")
    ]


STAGES = ("lead", "mql", "customer")


def stage_rules(allow_regress: bool) -> RuleSet:
    return ruleset(
        {
            "hot": behaviour("page_view", within=HOUR),
            "mql_or_more": stage_test("gte", "mql"),
        },
        lifecycle=lifecycle(
            STAGES,
            [
                ("customer", behaviour("purchase")),
                ("lead", trait("email", "exists", True)),
                ("mql", in_segment("hot")),
            ],
            allow_regress,
        ),
    )


STAGE_EVENTS = [
    identify("i1", "c1", T0, {"email": "a@b.c"}),
    event("v1", "c1", "page_view", T0 + MINUTE),
    identify("i2", "c1", T0 + 2 * MINUTE, {"email": None}),
]


def test_stage_is_a_high_water_mark() -> None:
    out = oracle_changes(stage_rules(False), STAGE_EVENTS, until_us=T0 + DAY)
    assert brief(out["c1"]) == [
        ("None->lead", None, at(0), "profile", "i1"),
        ("hot", "entered", at(MINUTE), "event", "v1"),
        ("lead->mql", None, at(MINUTE), "event", "v1"),
        ("mql_or_more", "entered", at(MINUTE), "event", "v1"),
        ("hot", "exited", at(HOUR + MINUTE), "time", None),
    ]
    assert out["c1"][0] == life("c1", None, "lead", T0, "profile", "i1", 1)


def test_stage_with_allow_regress_follows_the_rules() -> None:
    out = oracle_changes(stage_rules(True), STAGE_EVENTS, until_us=T0 + DAY)
    assert brief(out["c1"]) == [
        ("None->lead", None, at(0), "profile", "i1"),
        ("hot", "entered", at(MINUTE), "event", "v1"),
        ("lead->mql", None, at(MINUTE), "event", "v1"),
        ("mql_or_more", "entered", at(MINUTE), "event", "v1"),
        ("hot", "exited", at(HOUR + MINUTE), "time", None),
        ("mql->None", None, at(HOUR + MINUTE), "time", None),  # the email was removed
        ("mql_or_more", "exited", at(HOUR + MINUTE), "time", None),
    ]


def test_highest_stage_whose_rule_holds_wins_and_jumps_are_one_change() -> None:
    events = [event("p", "c1", "purchase", T0), identify("i", "c1", T0 + 1, {"email": "x"})]
    out = oracle_changes(stage_rules(True), events)
    assert brief(out["c1"]) == [
        ("None->customer", None, at(0), "event", "p"),
        ("mql_or_more", "entered", at(0), "event", "p"),
    ]


def test_changes_of_one_instant_come_in_dependency_order_with_seq() -> None:
    # depth 0: z; depth 1: stage (key ""), a; depth 2: b. Ids chosen so id order misleads.
    rules = ruleset(
        {
            "b": stage_test("eq", "hot"),
            "a": in_segment("z"),
            "z": behaviour("v"),
            "y": not_(in_segment("a")),
        },
        lifecycle=lifecycle(("hot",), [("hot", in_segment("z"))]),
    )
    out = oracle_changes(rules, [event("e", "c1", "v", T0)])
    assert out["c1"] == [
        seg("c1", "z", "entered", T0, "event", "e", 1),
        life("c1", None, "hot", T0, "event", "e", 2),
        seg("c1", "a", "entered", T0, "event", "e", 3),
        seg("c1", "b", "entered", T0, "event", "e", 4),
    ]
    # `y` entered nothing: it was never a member, and is not now either


def test_first_event_evaluates_everything_from_member_of_nothing() -> None:
    rules = ruleset(
        {"never_bought": not_(behaviour("purchase")), "any_or_nothing": any_(), "all": all_()}
    )
    out = oracle_changes(rules, [event("e", "c1", "login", T0)])
    assert brief(out["c1"]) == [
        ("all", "entered", at(0), "event", "e"),
        ("never_bought", "entered", at(0), "event", "e"),
    ]


def test_seq_rises_by_one_per_contact_across_evaluations() -> None:
    rules = ruleset({"hot": behaviour("v", within=HOUR), "warm": behaviour("v", within=2 * HOUR)})
    events = [
        event("e1", "c1", "v", T0),
        event("e2", "c2", "v", T0 + 30 * MINUTE),
        event("e3", "c1", "v", T0 + 3 * HOUR),
    ]
    out = oracle_changes(rules, events)
    assert [(m["segment"], m["change"], m["seq"]) for m in out["c1"]] == [
        ("hot", "entered", 1),
        ("warm", "entered", 2),
        ("hot", "exited", 3),
        ("warm", "exited", 4),
        ("hot", "entered", 5),
        ("warm", "entered", 6),
    ]
    assert [m["seq"] for m in out["c2"]] == [1, 2, 3, 4]
    assert [m["at"] for m in out["c2"]] == [at(30 * MINUTE)] * 2 + [
        at(90 * MINUTE),
        at(150 * MINUTE),
    ]


@pytest.mark.parametrize(("contact", "share"), [("c1", 0.27499719), ("c2", 0.21570354)])
def test_holdout_is_a_stable_hash_of_segment_and_contact(contact: str, share: float) -> None:
    # sha256("vip\x00c1")[:8] / 2**64 = 0.274997190..., for c2 0.215703545...
    assert held_out("vip", contact, share + 1e-8)
    assert not held_out("vip", contact, share - 1e-8)
    rules = ruleset({"vip": behaviour("v")}, holdouts={"vip": share + 1e-8})
    events = [event("e", contact, "v", T0)]
    assert oracle_changes(rules, events)[contact][0]["holdout"] is True
    rules = ruleset({"vip": behaviour("v")}, holdouts={"vip": share - 1e-8})
    assert oracle_changes(rules, events)[contact][0]["holdout"] is False


def test_holdout_share_is_roughly_the_configured_one() -> None:
    drawn = sum(held_out("vip", f"c{i}", 0.1) for i in range(20_000))
    assert 0.09 < drawn / 20_000 < 0.11


def test_holdout_is_carried_on_exits_too() -> None:
    rules = ruleset({"vip": behaviour("v", within=HOUR)}, holdouts={"vip": 0.5})
    out = oracle_changes(rules, [event("e", "c1", "v", T0)], until_us=T0 + DAY)
    assert [(m["change"], m["holdout"]) for m in out["c1"]] == [
        ("entered", True),
        ("exited", True),
    ]


def test_windowed_score_expires_with_time() -> None:
    score = ScoreDef("eng", (score_rule("v", 5), score_rule("u", -20)), within=2 * HOUR)
    rules = ruleset({"engaged": score_test("eng", "gte", 10)}, scores=[score])
    events = [event("e1", "c1", "v", T0), event("e2", "c1", "v", T0 + HOUR)]
    out = oracle_changes(rules, events, until_us=T0 + DAY)
    assert brief(out["c1"]) == [
        ("engaged", "entered", at(HOUR), "event", "e2"),
        ("engaged", "exited", at(2 * HOUR), "time", None),
    ]


def test_until_before_now_fires_nothing_more() -> None:
    rules = ruleset({"hot": behaviour("v", within=HOUR)})
    events = [event("e1", "c1", "v", T0 + DAY)]
    assert len(oracle_changes(rules, events, until_us=T0)["c1"]) == 1


def test_replay_fires_deadlines_of_all_contacts_by_instant_then_contact() -> None:
    rules = ruleset({"hot": behaviour("v", within=HOUR)})
    events = [
        event("a", "c2", "v", T0),
        event("b", "c1", "v", T0 + 30 * MINUTE),
        event("c", "c3", "v", T0 + 30 * MINUTE),
        event("d", "c9", "login", T0 + DAY),
    ]
    log = [(m["contact_id"], m["change"], m["at"]) for m in oracle_log(rules, events)]
    assert log == [
        ("c2", "entered", at(0)),
        ("c1", "entered", at(30 * MINUTE)),
        ("c3", "entered", at(30 * MINUTE)),
        ("c2", "exited", at(HOUR)),
        ("c1", "exited", at(90 * MINUTE)),
        ("c3", "exited", at(90 * MINUTE)),
    ]
