"""The loader: the example file's AST, every load error with its exact message and path, YAML
and JSON files, and the version hash and summary."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.core.language.ast import (
    Aggregate,
    All,
    Any_,
    Behaviour,
    Goal,
    InSegment,
    Lifecycle,
    LifecycleRule,
    Not,
    Predicate,
    PropertyFilter,
    ScoreTest,
    StageTest,
    Trait,
)
from stream.core.language.loader import content_digest, load_dict, load_file, load_text, summary
from stream.errors import DefinitionError
from tests.support import EXAMPLE_RULES, ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "rules"
DAY = 86_400_000_000
COUNT_1 = Aggregate("count", Predicate("gte", 1))


def seg(when: Any, **fields: Any) -> dict[str, Any]:
    return {"id": "s", **fields, "when": when}


def doc(*segments: Any, **sections: Any) -> dict[str, Any]:
    return {"version": 1, **sections, "segments": list(segments)}


def when(condition: Any) -> dict[str, Any]:
    """A file with one segment `s` whose condition is `condition`."""
    return doc(seg(condition))


def problems(document: object) -> list[str]:
    with pytest.raises(DefinitionError) as info:
        load_dict(document, "f")
    return info.value.lines()


LIFECYCLE = {
    "stages": ["lead", "mql", "customer"],
    "rules": [{"stage": "lead", "when": {"trait": "email", "exists": True}}],
}
SCORES = [{"id": "engagement", "rules": [{"event": "email_open", "points": 1}]}]
W = "f: segments[0].when"
KINDS = "all, any, not, trait, event, score, in_segment, stage"
OPS = (
    "eq, ne, in, not_in, gt, gte, lt, lte, between, exists, contains, starts_with, ends_with, "
    "matches"
)
ID_RULE = "use 1-64 lowercase letters, digits and underscores"


# --- the example file ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def example() -> Any:
    return load_file(EXAMPLE_RULES)


def test_example_loads(example: Any) -> None:
    assert len(example.segments) == 17
    assert [s.id for s in example.scores] == ["engagement"]
    assert len(example.scores[0].rules) == 8
    assert example.scores[0].within == 90 * DAY
    assert example.lifecycle.stages == (
        "subscriber",
        "lead",
        "mql",
        "sql",
        "opportunity",
        "customer",
        "evangelist",
    )
    assert example.lifecycle.allow_regress is False
    assert re.fullmatch("[0-9a-f]{12}", example.version_hash)


@pytest.mark.parametrize(
    ("segment", "condition"),
    [
        (
            "pricing_intent",
            Behaviour(
                ("page_view",),
                (PropertyFilter(("path",), Predicate("eq", "/pricing")),),
                7 * DAY,
                Aggregate("count", Predicate("gte", 3)),
            ),
        ),
        (
            "content_bingers",
            Behaviour(
                ("content_download",),
                (),
                90 * DAY,
                Aggregate("distinct", Predicate("gte", 3), ("content_id",)),
            ),
        ),
        (
            "email_disengaged",
            All(
                (
                    Trait(("email",), Predicate("exists", True)),
                    Behaviour(("email_open", "email_click"), (), None, COUNT_1),
                    Not(Behaviour(("email_open", "email_click"), (), 60 * DAY, COUNT_1)),
                    Not(InSegment("unsubscribed")),
                )
            ),
        ),
        ("unsubscribed", Behaviour(("unsubscribe",), (), None, COUNT_1)),
        (
            "marketing_qualified",
            All(
                (
                    Any_(
                        (
                            InSegment("guide_downloaders"),
                            ScoreTest("engagement", Predicate("gte", 50)),
                        )
                    ),
                    Not(InSegment("unsubscribed")),
                )
            ),
        ),
        (
            "mql_startups",
            All(
                (
                    StageTest(Predicate("eq", "mql")),
                    Trait(("company", "employees"), Predicate("lt", 50)),
                    Trait(
                        ("company", "industry"), Predicate("in", ("saas", "software", "fintech"))
                    ),
                )
            ),
        ),
        ("persona_social_aisha", Trait(("job_title",), Predicate("contains", "social", True))),
        (
            "high_value_customers",
            Behaviour(
                ("purchase",), (), 365 * DAY, Aggregate("sum", Predicate("gte", 10000), ("amount",))
            ),
        ),
        (
            "persona_it_trevor",
            All(
                (
                    Trait(
                        ("job_title",),
                        Predicate("matches", "(?i)\\b(it|infrastructure|security|devops)\\b"),
                    ),
                    Behaviour(
                        ("page_view",),
                        (
                            PropertyFilter(
                                ("topic",), Predicate("in", ("infrastructure", "security"))
                            ),
                        ),
                        90 * DAY,
                        COUNT_1,
                    ),
                )
            ),
        ),
    ],
)
def test_example_conditions(example: Any, segment: str, condition: Any) -> None:
    assert next(s for s in example.segments if s.id == segment).when == condition


def test_example_details(example: Any) -> None:
    by_id = {s.id: s for s in example.segments}
    trevor = by_id["persona_it_trevor"].when.items[0].predicate
    assert trevor.pattern.search("Head of IT") and not trevor.pattern.search("Sales")
    assert by_id["abm_lookalikes"].holdout == 0.1
    assert by_id["churn_rescue"].holdout == 0.2
    assert by_id["pricing_intent"].holdout == 0.0
    assert by_id["persona_it_trevor"].persona == "IT Trevor"
    assert by_id["guide_downloaders"].name == "Downloaded a guide in the last 30 days"
    assert by_id["unsubscribed"].name is None and by_id["unsubscribed"].tags == ()
    lifecycle = example.lifecycle
    assert lifecycle.rules[2] == LifecycleRule("mql", InSegment("marketing_qualified"))
    assert lifecycle.rules[6].when == Behaviour(
        ("referral_sent",), (), None, Aggregate("count", Predicate("gte", 2))
    )
    first_rule = example.scores[0].rules[2]
    assert first_rule.where == (PropertyFilter(("path",), Predicate("eq", "/pricing")),)
    assert example.scores[0].rules[-1].points == -25


def test_summary(example: Any) -> None:
    assert summary(example) == (
        f"17 segments, 1 score, lifecycle with 7 stages (version {example.version_hash})"
    )
    small = load_dict(doc(seg({"trait": "plan", "eq": "pro"})))
    assert summary(small) == f"1 segment, 0 scores, no lifecycle (version {small.version_hash})"


# --- the AST for each kind of condition ---------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"all": []}, All(())),
        ({"any": []}, Any_(())),
        ({"trait": "a.b.c", "exists": False}, Trait(("a", "b", "c"), Predicate("exists", False))),
        ({"trait": "x", "between": [1, 2.5]}, Trait(("x",), Predicate("between", (1, 2.5)))),
        ({"trait": "x", "between": ["a", "m"]}, Trait(("x",), Predicate("between", ("a", "m")))),
        (
            {"trait": "x", "not_in": [1, "1", True]},
            Trait(("x",), Predicate("not_in", (1, "1", True))),
        ),
        ({"trait": "x", "gte": "2026-01-01"}, Trait(("x",), Predicate("gte", "2026-01-01"))),
        ({"trait": "x", "eq": False}, Trait(("x",), Predicate("eq", False))),
        ({"trait": "x", "ne": 1.5}, Trait(("x",), Predicate("ne", 1.5))),
        (
            {"trait": "x", "ends_with": "@acme.com", "ignore_case": True},
            Trait(("x",), Predicate("ends_with", "@acme.com", True)),
        ),
        (
            {"event": ["a", "b"], "where": {"p": ["x", "y"], "q.r": {"gt": 3}, "s": True}},
            Behaviour(
                ("a", "b"),
                (
                    PropertyFilter(("p",), Predicate("in", ("x", "y"))),
                    PropertyFilter(("q", "r"), Predicate("gt", 3)),
                    PropertyFilter(("s",), Predicate("eq", True)),
                ),
                None,
                COUNT_1,
            ),
        ),
        (
            {"event": "a", "within": "90s", "count": {"between": [1, 3]}},
            Behaviour(("a",), (), 90_000_000, Aggregate("count", Predicate("between", (1, 3)))),
        ),
        (
            {"event": "a", "within": "2w", "avg": {"property": "x.y", "lt": 2}},
            Behaviour(("a",), (), 14 * DAY, Aggregate("avg", Predicate("lt", 2), ("x", "y"))),
        ),
        (
            {"event": "a", "min": {"property": "x", "eq": 0}},
            Behaviour(("a",), (), None, Aggregate("min", Predicate("eq", 0), ("x",))),
        ),
        (
            {"event": "a", "max": {"property": "x", "ne": 0}},
            Behaviour(("a",), (), None, Aggregate("max", Predicate("ne", 0), ("x",))),
        ),
        (
            {"score": "engagement", "between": [10, 20]},
            ScoreTest("engagement", Predicate("between", (10, 20))),
        ),
        ({"stage": {"not_in": ["lead", "mql"]}}, StageTest(Predicate("not_in", ("lead", "mql")))),
        ({"stage": {"lt": "customer"}}, StageTest(Predicate("lt", "customer"))),
    ],
)
def test_condition_ast(condition: Any, expected: Any) -> None:
    rules = load_dict(doc(seg(condition), scores=SCORES, lifecycle=LIFECYCLE))
    assert rules.segments[0].when == expected


@pytest.mark.parametrize(("ignore_case", "case_sensitive"), [(False, True), (True, False)])
def test_matches_is_compiled_once(ignore_case: bool, case_sensitive: bool) -> None:
    rules = load_dict(when({"trait": "t", "matches": "^ab+$", "ignore_case": ignore_case}))
    predicate = rules.segments[0].when.predicate  # type: ignore[union-attr]
    assert predicate.operand == "^ab+$"
    assert predicate.pattern is not None
    assert predicate.pattern.pattern == "^ab+$"  # type: ignore[attr-defined]
    assert predicate.pattern.options.case_sensitive is case_sensitive  # type: ignore[attr-defined]


def test_sections_ast() -> None:
    rules = load_dict(
        doc(
            seg({"in_segment": "s"}, id="t", tags=["a", "b"], holdout=0, owner="ops"),
            seg({"trait": "x", "exists": True}),
            scores=[
                {
                    "id": "e",
                    "within": "30d",
                    "rules": [
                        {"event": ["a", "b"], "where": {"k": 1}, "points": 2.5},
                    ],
                }
            ],
            lifecycle={
                "stages": ["lead"],
                "allow_regress": True,
                "rules": [
                    {"stage": "lead", "when": {"score": "e", "gt": 0}},
                ],
            },
        )
    )
    assert rules.version == 1
    assert rules.segments[0].tags == ("a", "b")
    assert rules.segments[0].holdout == 0.0 and isinstance(rules.segments[0].holdout, float)
    assert rules.segments[0].owner == "ops"
    score = rules.scores[0]
    assert (score.id, score.within) == ("e", 30 * DAY)
    assert score.rules[0].types == ("a", "b")
    assert score.rules[0].where == (PropertyFilter(("k",), Predicate("eq", 1)),)
    assert score.rules[0].points == 2.5
    assert rules.lifecycle == Lifecycle(
        ("lead",), (LifecycleRule("lead", ScoreTest("e", Predicate("gt", 0))),), True
    )


def test_goals_ast() -> None:
    """A goal is metadata: it makes no dependency, so a goal on a segment that tests this one
    is no cycle."""
    rules = load_dict(
        doc(
            seg({"all": []}, goal={"stage": "customer", "within": "30d"}),
            seg({"in_segment": "s"}, id="t", goal={"segment": "s", "within": "2w"}),
            seg({"all": []}, id="u", goal={"segment": "t", "within": "1d"}),
            lifecycle=LIFECYCLE,
        )
    )
    assert [s.goal for s in rules.segments] == [
        Goal("stage", "customer", 30 * DAY),
        Goal("segment", "s", 14 * DAY),
        Goal("segment", "t", DAY),
    ]
    assert load_dict(doc(seg({"all": []}))).segments[0].goal is None


# --- every load error, with its exact message and path ------------------------------------

HOLDOUT = "holdout needs a number from 0 up to but not including 1 (0.1 holds out 10%)"
SCALAR = "text, a number, true or false"
NUMERIC_OPS = "eq, ne, gt, gte, lt, lte, between"
DURATION_RULE = "write a whole number and one unit of s, m, h, d or w, e.g. 90s, 15m, 36h, 30d, 2w"


def score_rules(*rules: Any, **fields: Any) -> dict[str, Any]:
    """A score `e` with `rules` (one valid rule when none are given)."""
    return {"id": "e", **fields, "rules": list(rules or [{"event": "a", "points": 1}])}


def lifecycle(stages: list[str] | None = None, rules: list[Any] | None = None) -> dict[str, Any]:
    """LIFECYCLE with other `stages` or `rules`."""
    return {"stages": stages or LIFECYCLE["stages"], "rules": rules or LIFECYCLE["rules"]}


# fmt: off
ERRORS: list[tuple[str, object, list[str]]] = [
    # the file as a whole
    ("top level a list", [1],
     ["f: the top level must be a mapping with version and segments, got [1]"]),
    ("top level text", "x",
     ["f: the top level must be a mapping with version and segments, got 'x'"]),
    ("no version", {"segments": [seg({"all": []})]}, ["f: missing required key 'version'"]),
    ("version 2", {"version": 2, "segments": [seg({"all": []})]},
     ["f: version: unsupported version 2: this segstream reads version 1"]),
    ("version as text", {"version": "1", "segments": [seg({"all": []})]},
     ["f: version: version needs the number 1, got '1'"]),
    ("version true", {"version": True, "segments": [seg({"all": []})]},
     ["f: version: version needs the number 1, got true"]),
    ("unknown top key", {"version": 1, "segmets": []},
     ["f: unknown key 'segmets' (did you mean 'segments'?)",
      "f: missing required key 'segments'"]),
    ("no segments", doc(), ["f: segments: at least one segment is required"]),
    ("segments not a list", {"version": 1, "segments": {"id": "a"}},
     ['f: segments: expected a list of segments, got {"id": "a"}']),
    # segments
    ("segment not a mapping", doc("a"),
     ["f: segments[0]: expected a segment: a mapping with id and when, got 'a'"]),
    ("segment without when", doc({"id": "a"}), ["f: segments[0]: missing required key 'when'"]),
    ("segment key typo", doc({"id": "a", "whne": {"all": []}}),
     ["f: segments[0]: unknown key 'whne' (did you mean 'when'?)",
      "f: segments[0]: missing required key 'when'"]),
    ("uppercase id", doc(seg({"all": []}, id="MQL")),
     [f"f: segments[0].id: invalid segment id 'MQL': {ID_RULE}"]),
    ("id too long", doc(seg({"all": []}, id="a" * 65)),
     [f"f: segments[0].id: invalid segment id '{'a' * 37}...': {ID_RULE}"]),
    ("empty id", doc(seg({"all": []}, id="")),
     [f"f: segments[0].id: invalid segment id '': {ID_RULE}"]),
    ("numeric id", doc(seg({"all": []}, id=5)),
     ["f: segments[0].id: segment id needs text such as mql, got 5"]),
    ("numeric name", doc(seg({"all": []}, name=2024)),
     ["f: segments[0].name: name needs text, got 2024: quote it"]),
    ("tags not a list", doc(seg({"all": []}, tags="vip")),
     ["f: segments[0].tags: tags needs a list of texts, got 'vip'"]),
    ("numeric tag", doc(seg({"all": []}, tags=["a", 1])),
     ["f: segments[0].tags[1]: a tag needs text, got 1: quote it"]),
    ("holdout 1", doc(seg({"all": []}, holdout=1)), [f"f: segments[0].holdout: {HOLDOUT}, got 1"]),
    ("holdout negative", doc(seg({"all": []}, holdout=-0.1)),
     [f"f: segments[0].holdout: {HOLDOUT}, got -0.1"]),
    ("holdout percent", doc(seg({"all": []}, holdout="10%")),
     [f"f: segments[0].holdout: {HOLDOUT}, got '10%'"]),
    # goals
    ("goal a text", doc(seg({"all": []}, goal="customer")),
     ["f: segments[0].goal: goal needs a mapping such as {stage: customer, within: 30d}, "
      "got 'customer'"]),
    ("goal without within", doc(seg({"all": []}, goal={"stage": "lead"}), lifecycle=LIFECYCLE),
     ["f: segments[0].goal: missing required key 'within'"]),
    ("goal with neither", doc(seg({"all": []}, goal={"within": "30d"})),
     ["f: segments[0].goal: goal needs the stage or the segment to reach, e.g. "
      "{stage: customer, within: 30d}"]),
    ("goal with both",
     doc(seg({"all": []}, goal={"stage": "lead", "segment": "t", "within": "30d"}),
         seg({"all": []}, id="t"), lifecycle=LIFECYCLE),
     ["f: segments[0].goal: goal names a stage or a segment, not both: keep one"]),
    ("goal unknown key",
     doc(seg({"all": []}, goal={"stage": "lead", "withn": "30d"}), lifecycle=LIFECYCLE),
     ["f: segments[0].goal: unknown key 'withn' (did you mean 'within'?)",
      "f: segments[0].goal: missing required key 'within'"]),
    ("goal bad stage name", doc(seg({"all": []}, goal={"stage": "Customer", "within": "30d"})),
     [f"f: segments[0].goal.stage: invalid stage name 'Customer': {ID_RULE}"]),
    ("goal bad within", doc(seg({"all": []}, goal={"segment": "t", "within": 30}),
                            seg({"all": []}, id="t")),
     ["f: segments[0].goal.within: within needs a duration such as 30d, got 30"]),
    ("goal zero within", doc(seg({"all": []}, goal={"segment": "t", "within": "0d"}),
                             seg({"all": []}, id="t")),
     ["f: segments[0].goal.within: duration '0d' is zero: a window must be longer than that"]),
    ("goal unknown stage",
     doc(seg({"all": []}, goal={"stage": "customers", "within": "30d"}), lifecycle=LIFECYCLE),
     ["f: segments[0].goal.stage: unknown stage 'customers' (did you mean 'customer'?); "
      "the stages are lead, mql, customer"]),
    ("goal stage without lifecycle", doc(seg({"all": []}, goal={"stage": "lead", "within": "7d"})),
     ["f: segments[0].goal.stage: there is no lifecycle, so no stage 'lead' to reach: "
      "add a lifecycle section with stages, or make the goal a segment"]),
    ("goal unknown segment",
     doc(seg({"all": []}, goal={"segment": "buyer", "within": "7d"}),
         seg({"all": []}, id="buyers")),
     ["f: segments[0].goal.segment: unknown segment 'buyer' (did you mean 'buyers'?)"]),
    ("goal is the segment itself", doc(seg({"all": []}, goal={"segment": "s", "within": "7d"})),
     ["f: segments[0].goal.segment: a segment cannot be its own goal: "
      "name another segment or a stage"]),
    ("duplicate segment id",
     doc(seg({"all": []}, id="a"), seg({"all": []}, id="b"), seg({"all": []}, id="a")),
     ["f: segments[2].id: duplicate segment id 'a': segments[0] has it too; ids must be unique"]),
    # conditions
    ("condition a list", when([{"trait": "x", "exists": True}]),
     [f'{W}: expected a condition: a mapping with one of {KINDS}, got [{{"trait": "x", '
      '"exists": true}]; to combine several, put them under all: or any:']),
    ("condition null", when(None),
     [f"{W}: expected a condition: a mapping with one of {KINDS}, got null"]),
    ("empty condition", when({}), [f"{W}: not a condition: it needs one of {KINDS}"]),
    ("condition key typo", when({"trai": "x", "eq": 1}),
     [f"{W}: not a condition: it needs one of {KINDS}; found 'trai', 'eq' "
      "(did you mean 'trait'?)"]),
    ("two condition keys", when({"trait": "x", "event": "y"}),
     [f"{W}: more than one condition key (trait, event): a condition has exactly one; "
      "combine conditions with all or any"]),
    ("all not a list", when({"all": {"trait": "x", "exists": True}}),
     [f'{W}.all: all needs a list of conditions, got {{"trait": "x", "exists": true}}']),
    ("option on all", when({"all": [], "name": "x"}),
     [f"{W}.all: unknown option 'name': all takes none"]),
    ("option on not", when({"not": {"all": []}, "within": "7d"}),
     [f"{W}.not: unknown option 'within': not takes none"]),
    ("nested problem path", when({"any": [{"all": []}, {"not": {"any": [{"trait": "x"}]}}]}),
     [f"{W}.any[1].not.any[0].trait: missing operator: add one of {OPS}"]),
    # trait conditions
    ("unknown operator", when({"trait": "x", "greater": 3}),
     [f"{W}.trait: unknown operator 'greater'"]),
    ("operator typo", when({"trait": "x", "gtee": 3}),
     [f"{W}.trait: unknown operator 'gtee' (did you mean 'gte'?)"]),
    ("ignore_case typo", when({"trait": "x", "eq": "a", "ignorecase": True}),
     [f"{W}.trait: unknown operator 'ignorecase' (did you mean 'ignore_case'?)"]),
    ("missing operator", when({"trait": "x"}), [f"{W}.trait: missing operator: add one of {OPS}"]),
    ("two operators", when({"trait": "x", "gt": 1, "lt": 5}),
     [f"{W}.trait: more than one operator (gt, lt): use one here and combine conditions with all"]),
    ("bad trait path", when({"trait": "company..name", "exists": True}),
     [f"{W}.trait: invalid trait path 'company..name': write names joined by single dots, "
      "e.g. a.b"]),
    ("trait path not text", when({"trait": 5, "exists": True}),
     [f"{W}.trait: trait path needs a name or dotted path, got 5"]),
    ("eq a list", when({"trait": "x", "eq": ["a", "b"]}),
     [f'{W}.eq: eq needs one value ({SCALAR}), got ["a", "b"]; for one of several values use in']),
    ("ne a list", when({"trait": "x", "ne": ["a"]}),
     [f'{W}.ne: ne needs one value ({SCALAR}), got ["a"]; for one of several values use not_in']),
    ("eq null", when({"trait": "x", "eq": None}),
     [f"{W}.eq: eq needs one value ({SCALAR}), got null; "
      "to test that a value is missing use exists: false"]),
    ("contains a mapping", when({"trait": "x", "contains": {"a": 1}}),
     [f'{W}.contains: contains needs one value ({SCALAR}), got {{"a": 1}}']),
    ("in not a list", when({"trait": "x", "in": "saas"}),
     [f"{W}.in: in needs a list of values, e.g. [saas, software], got 'saas'"]),
    ("in empty", when({"trait": "x", "not_in": []}),
     [f"{W}.not_in: not_in needs at least one value"]),
    ("in with a list inside", when({"trait": "x", "in": ["a", ["b"], None]}),
     [f'{W}.in[1]: expected {SCALAR}, got ["b"]', f"{W}.in[2]: expected {SCALAR}, got null"]),
    ("gt true", when({"trait": "x", "gt": True}), [f"{W}.gt: gt needs a number or text, got true"]),
    ("between one value", when({"trait": "x", "between": [1]}),
     [f"{W}.between: between needs [lo, hi] with two numbers or two texts, got [1]"]),
    ("between mixed", when({"trait": "x", "between": [1, "9"]}),
     [f'{W}.between: between needs [lo, hi] with two numbers or two texts, got [1, "9"]']),
    ("between reversed", when({"trait": "x", "between": [10, 5]}),
     [f"{W}.between: between [10, 5] is empty because lo is greater than hi: write [5, 10]"]),
    ("between reversed texts", when({"trait": "x", "between": ["m", "a"]}),
     [f'{W}.between: between ["m", "a"] is empty because lo is greater than hi: '
      "write ['a', 'm']"]),
    ("exists yes", when({"trait": "x", "exists": "yes"}),
     [f"{W}.exists: exists needs true or false, got 'yes'"]),
    ("starts_with a number", when({"trait": "x", "starts_with": 44}),
     [f"{W}.starts_with: starts_with needs text, got 44: quote it"]),
    ("bad regex", when({"trait": "x", "matches": "(it|ops"}),
     [f"{W}.matches: invalid regular expression '(it|ops': missing ): (it|ops"]),
    ("ignore_case not bool", when({"trait": "x", "eq": "a", "ignore_case": "yes"}),
     [f"{W}.ignore_case: ignore_case needs true or false, got 'yes'"]),
    # behaviour conditions
    ("option typo withn", when({"event": "login", "withn": "7d"}),
     [f"{W}.event: unknown option 'withn' (did you mean 'within'?)"]),
    ("empty event type", when({"event": ""}),
     [f"{W}.event: event needs an event type such as page_view, got ''"]),
    ("no event types", when({"event": []}), [f"{W}.event: event needs at least one event type"]),
    ("event type a number", when({"event": ["a", 5]}),
     [f"{W}.event[1]: event needs an event type such as page_view, got 5"]),
    ("event identify", when({"event": "identify"}),
     [f"{W}.event: identify is a profile update, not a behaviour event: test traits instead"]),
    ("within 10y", when({"event": "a", "within": "10y"}),
     [f"{W}.within: invalid duration '10y': {DURATION_RULE}"]),
    ("within a number", when({"event": "a", "within": 10}),
     [f"{W}.within: within needs a duration such as 30d, got 10"]),
    ("within 0d", when({"event": "a", "within": "0d"}),
     [f"{W}.within: duration '0d' is zero: a window must be longer than that; "
      "leave `within` out for all time"]),
    ("within 101 years", when({"event": "a", "within": "36526d"}),
     [f"{W}.within: duration '36526d' is longer than 100 years (36525d); "
      "leave `within` out for all time"]),
    ("two aggregates",
     when({"event": "a", "count": {"gte": 1}, "sum": {"property": "x", "gte": 1}}),
     [f"{W}.event: more than one aggregate (count, sum): use one per condition"]),
    ("count a number", when({"event": "a", "count": 3}),
     [f"{W}.count: count needs a mapping such as {{gte: 3}}, got 3"]),
    ("count unknown operator", when({"event": "a", "count": {"atleast": 3}}),
     [f"{W}.count: unknown operator 'atleast'"]),
    ("count without operator", when({"event": "a", "count": {}}),
     [f"{W}.count: missing operator: add one of {NUMERIC_OPS}"]),
    ("count of text", when({"event": "a", "count": {"gte": "3"}}),
     [f"{W}.count.gte: gte needs a number, got '3'"]),
    ("count between texts", when({"event": "a", "count": {"between": ["a", "b"]}}),
     [f'{W}.count.between: between needs [lo, hi] with two numbers, got ["a", "b"]']),
    ("count between reversed", when({"event": "a", "count": {"between": [3, 1]}}),
     [f"{W}.count.between: between [3, 1] is empty because lo is greater than hi: write [1, 3]"]),
    ("count with property", when({"event": "a", "count": {"property": "x", "gte": 1}}),
     [f"{W}.count: unknown operator 'property'"]),
    ("sum without property", when({"event": "a", "sum": {"gte": 10}}),
     [f"{W}.sum: missing required key 'property': the event property to sum"]),
    ("distinct bad property", when({"event": "a", "distinct": {"property": ".x", "gte": 2}}),
     [f"{W}.distinct.property: invalid property path '.x': write names joined by single dots, "
      "e.g. a.b"]),
    ("sum a list", when({"event": "a", "sum": []}),
     [f"{W}.sum: sum needs a mapping such as {{property: amount, gte: 100}}, got []"]),
    # where
    ("where a list", when({"event": "a", "where": [{"path": "/x"}]}),
     [f"{W}.where: where needs a mapping of event property to value, e.g. {{path: /pricing}}, "
      'got [{"path": "/x"}]']),
    ("where null value", when({"event": "a", "where": {"path": None}}),
     [f"{W}.where.path: a property value cannot be null: to test that it is missing, "
      "write {exists: false}"]),
    ("where bad key", when({"event": "a", "where": {"a..b": 1}}),
     [f"{W}.where.a..b: invalid property path 'a..b': write names joined by single dots, "
      "e.g. a.b"]),
    ("where unknown operator", when({"event": "a", "where": {"n": {"greater": 1}}}),
     [f"{W}.where.n: unknown operator 'greater'"]),
    ("where empty operator mapping", when({"event": "a", "where": {"n": {}}}),
     [f"{W}.where.n: missing operator: add one of {OPS}"]),
    ("where trait key", when({"event": "a", "where": {"n": {"trait": "x", "eq": 1}}}),
     [f"{W}.where.n: unknown operator 'trait'"]),
    ("where empty list", when({"event": "a", "where": {"n": []}}),
     [f"{W}.where.n: the list needs at least one value"]),
    ("where operand", when({"event": "a", "where": {"n": {"gte": [1]}}}),
     [f"{W}.where.n.gte: gte needs a number or text, got [1]"]),
    # score conditions
    ("unknown score", doc(seg({"score": "engagment", "gte": 1}), scores=SCORES),
     [f"{W}.score: unknown score 'engagment' (did you mean 'engagement'?)"]),
    ("no scores", when({"score": "engagement", "gte": 1}),
     [f"{W}.score: unknown score 'engagement': no scores are defined"]),
    ("score without operator", doc(seg({"score": "engagement"}), scores=SCORES),
     [f"{W}.score: missing operator: add one of {NUMERIC_OPS}"]),
    ("score in", doc(seg({"score": "engagement", "in": [1, 2]}), scores=SCORES),
     [f"{W}.score: unknown operator 'in'"]),
    ("score of text", doc(seg({"score": "engagement", "gte": "fifty"}), scores=SCORES),
     [f"{W}.gte: gte needs a number, got 'fifty'"]),
    ("score id not a name", when({"score": "Engagement", "gte": 1}),
     [f"{W}.score: invalid score id 'Engagement': {ID_RULE}"]),
    # segment references
    ("unknown segment",
     doc(seg({"in_segment": "customer"}, id="a"), seg({"all": []}, id="customers")),
     [f"{W}.in_segment: unknown segment 'customer' (did you mean 'customers'?)"]),
    ("in_segment option",
     doc(seg({"in_segment": "t", "negate": True}), seg({"all": []}, id="t")),
     [f"{W}.in_segment: unknown option 'negate': in_segment takes none"]),
    ("in_segment not a name", when({"in_segment": ["a"]}),
     [f'{W}.in_segment: segment id needs text such as mql, got ["a"]']),
    # stage conditions
    ("stage bare name", doc(seg({"stage": "mql"}), lifecycle=LIFECYCLE),
     [f"{W}.stage: stage needs a comparison such as {{gte: mql}}, got 'mql'"]),
    ("stage between", doc(seg({"stage": {"between": ["lead", "mql"]}}), lifecycle=LIFECYCLE),
     [f"{W}.stage: unknown operator 'between'"]),
    ("stage in a name", doc(seg({"stage": {"in": "mql"}}), lifecycle=LIFECYCLE),
     [f"{W}.stage.in: in needs a list of stage names, e.g. [mql, sql], got 'mql'"]),
    ("stage name invalid", doc(seg({"stage": {"eq": "MQL"}}), lifecycle=LIFECYCLE),
     [f"{W}.stage.eq: invalid stage name 'MQL': {ID_RULE}"]),
    ("stage without lifecycle", when({"stage": {"gte": "mql"}}),
     [f"{W}.stage.gte: there is no lifecycle, so no stage 'mql': add a lifecycle section with "
      "stages, or remove the stage test"]),
    ("unknown stage", doc(seg({"stage": {"in": ["mql", "sqll"]}}), lifecycle=LIFECYCLE),
     [f"{W}.stage.in[1]: unknown stage 'sqll'; the stages are lead, mql, customer"]),
    ("stage typo", doc(seg({"stage": {"gte": "customr"}}), lifecycle=LIFECYCLE),
     [f"{W}.stage.gte: unknown stage 'customr' (did you mean 'customer'?); "
      "the stages are lead, mql, customer"]),
    # scores
    ("scores not a list", doc(seg({"all": []}), scores={"id": "e"}),
     ['f: scores: expected a list of scores, got {"id": "e"}']),
    ("score without rules", doc(seg({"all": []}), scores=[{"id": "e"}]),
     ["f: scores[0]: missing required key 'rules'"]),
    ("score with no rules", doc(seg({"all": []}), scores=[{"id": "e", "rules": []}]),
     ["f: scores[0].rules: at least one rule is required"]),
    ("score rule without points", doc(seg({"all": []}), scores=[score_rules({"event": "a"})]),
     ["f: scores[0].rules[0]: missing required key 'points'"]),
    ("score points text",
     doc(seg({"all": []}), scores=[score_rules({"event": "a", "points": "10"})]),
     ["f: scores[0].rules[0].points: points needs a number, got '10'"]),
    ("score points too large",
     doc(seg({"all": []}), scores=[score_rules({"event": "a", "points": -1e308})]),
     ["f: scores[0].rules[0].points: points -1e+308 is too large: at most 1e100 either way"]),
    ("score rule typo", doc(seg({"all": []}), scores=[score_rules({"event": "a", "point": 1})]),
     ["f: scores[0].rules[0]: unknown key 'point' (did you mean 'points'?)",
      "f: scores[0].rules[0]: missing required key 'points'"]),
    ("score name", doc(seg({"all": []}), scores=[score_rules(name="E")]),
     ["f: scores[0]: unknown key 'name'"]),
    ("score window", doc(seg({"all": []}), scores=[score_rules(within="90")]),
     [f"f: scores[0].within: invalid duration '90': {DURATION_RULE}"]),
    ("score rule identify",
     doc(seg({"all": []}), scores=[score_rules({"event": "identify", "points": 1})]),
     ["f: scores[0].rules[0].event: identify is a profile update, not a behaviour event: "
      "test traits instead"]),
    ("duplicate score id", doc(seg({"all": []}), scores=[*SCORES, *SCORES]),
     ["f: scores[1].id: duplicate score id 'engagement': scores[0] has it too; "
      "ids must be unique"]),
    # lifecycle
    ("lifecycle a list", doc(seg({"all": []}), lifecycle=["lead"]),
     ['f: lifecycle: expected a lifecycle: a mapping with stages and rules, got ["lead"]']),
    ("lifecycle without rules", doc(seg({"all": []}), lifecycle={"stages": ["lead"]}),
     ["f: lifecycle: missing required key 'rules'"]),
    ("no stages", doc(seg({"all": []}), lifecycle={**LIFECYCLE, "stages": []}),
     ["f: lifecycle.stages: at least one stage is required",
      "f: lifecycle.rules[0].stage: unknown stage 'lead'; the stages are "]),
    ("stages a name", doc(seg({"all": []}), lifecycle={**LIFECYCLE, "stages": "lead"}),
     ["f: lifecycle.stages: stages needs a list of stage names, got 'lead'"]),
    ("stage listed twice", doc(seg({"all": []}), lifecycle=lifecycle(["lead", "mql", "lead"])),
     ["f: lifecycle.stages[2]: stage 'lead' is listed twice"]),
    ("stage name with space", doc(seg({"all": []}), lifecycle=lifecycle(["lead", "sales ready"])),
     [f"f: lifecycle.stages[1]: invalid stage name 'sales ready': {ID_RULE}"]),
    ("rule for an unknown stage",
     doc(seg({"all": []}),
         lifecycle=lifecycle(rules=[{"stage": "customers", "when": {"all": []}}])),
     ["f: lifecycle.rules[0].stage: unknown stage 'customers' (did you mean 'customer'?); "
      "the stages are lead, mql, customer"]),
    ("rule without when", doc(seg({"all": []}), lifecycle=lifecycle(rules=[{"stage": "lead"}])),
     ["f: lifecycle.rules[0]: missing required key 'when'"]),
    ("allow_regress text", doc(seg({"all": []}), lifecycle={**LIFECYCLE, "allow_regress": "no"}),
     ["f: lifecycle.allow_regress: allow_regress needs true or false, got 'no'"]),
    ("lifecycle rule bad condition",
     doc(seg({"all": []}), lifecycle=lifecycle(rules=[
         {"stage": "lead", "when": {"trait": "email", "exist": True}}])),
     ["f: lifecycle.rules[0].when.trait: unknown operator 'exist' (did you mean 'exists'?)"]),
    ("lifecycle rule unknown segment",
     doc(seg({"all": []}), lifecycle=lifecycle(rules=[
         {"stage": "mql", "when": {"in_segment": "mqls"}}])),
     ["f: lifecycle.rules[0].when.in_segment: unknown segment 'mqls'"]),
    # cycles
    ("segment tests itself", doc(seg({"not": {"in_segment": "s"}})), [f"{W}: cycle: s -> s"]),
    ("two segments",
     doc(seg({"all": []}, id="x"), seg({"in_segment": "b"}, id="a"),
         seg({"in_segment": "a"}, id="b")),
     ["f: segments[1].when: cycle: a -> b -> a"]),
    ("three segments, reported from the first",
     doc(seg({"in_segment": "a"}, id="c"), seg({"in_segment": "b"}, id="a"),
         seg({"in_segment": "c"}, id="b")),
     ["f: segments[0].when: cycle: c -> a -> b -> c"]),
    ("two separate cycles",
     doc(seg({"in_segment": "b"}, id="a"), seg({"in_segment": "a"}, id="b"),
         seg({"in_segment": "c"}, id="c")),
     ["f: segments[0].when: cycle: a -> b -> a", "f: segments[2].when: cycle: c -> c"]),
    ("cycles sharing a segment",
     doc(seg({"any": [{"in_segment": "b"}, {"in_segment": "c"}]}, id="a"),
         seg({"in_segment": "a"}, id="b"), seg({"in_segment": "a"}, id="c")),
     ["f: segments[0].when: cycle: a -> b -> a", "f: segments[0].when: cycle: a -> c -> a"]),
    ("through the lifecycle",
     doc(seg({"all": []}, id="x"), seg({"stage": {"gte": "mql"}}, id="mql_plus"),
         lifecycle=lifecycle(rules=[{"stage": "mql", "when": {"in_segment": "mql_plus"}}])),
     ["f: segments[1].when: cycle: mql_plus -> (lifecycle) -> mql_plus"]),
    ("lifecycle rule tests the stage",
     doc(seg({"all": []}), lifecycle=lifecycle(rules=[
         {"stage": "mql", "when": {"stage": {"gte": "lead"}}}])),
     ["f: lifecycle.rules[0].when.stage.gte: a lifecycle rule cannot test the stage "
      "(cycle: (lifecycle) -> (lifecycle))"]),
    # data that is not JSON
    ("non-text key", when({"event": "a", "where": {1: "x"}}),
     [f"{W}.where: key 1 is not text: quote it"]),
    ("NaN", when({"trait": "x", "gt": float("nan")}), [f"{W}.gt: nan is not a finite number"]),
    ("infinity", when({"trait": "x", "lt": float("inf")}), [f"{W}.lt: inf is not a finite number"]),
    ("a tuple", when({"trait": "x", "in": ("a", "b")}),
     [f"{W}.in: a tuple value is not allowed: quote it as text"]),
]
# fmt: on


@pytest.mark.parametrize(
    ("document", "expected"), [(d, e) for _, d, e in ERRORS], ids=[name for name, _, _ in ERRORS]
)
def test_load_error(document: object, expected: list[str]) -> None:
    assert problems(document) == expected


def test_the_spec_example_error() -> None:
    """rules.md's own example: `FILE: segments[3].when.all[1].trait: unknown operator 'greater'`."""
    segments = [seg({"all": []}, id=f"s{i}") for i in range(3)]
    bad = seg({"all": [{"trait": "plan", "eq": "pro"}, {"trait": "employees", "greater": 10}]})
    assert problems(doc(*segments, bad)) == [
        "f: segments[3].when.all[1].trait: unknown operator 'greater'"
    ]


def test_every_problem_is_reported_structure_first() -> None:
    document = doc(
        seg({"in_segment": "nowhere"}, id="a"),
        seg({"event": "x", "within": "0d", "count": {"gte": "3"}}, id="b"),
        seg({"trait": "t", "matches": "[", "ignore_case": 1}, id="a"),
        seg({"stage": {"eq": "mql"}}, id="Bad"),
        scores=[{"id": "e", "rules": []}],
    )
    assert problems(document) == [
        "f: scores[0].rules: at least one rule is required",
        "f: segments[1].when.count.gte: gte needs a number, got '3'",
        "f: segments[2].when.ignore_case: ignore_case needs true or false, got 1",
        f"f: segments[3].id: invalid segment id 'Bad': {ID_RULE}",
        "f: segments[1].when.within: duration '0d' is zero: a window must be longer than that; "
        "leave `within` out for all time",
        "f: segments[2].when.matches: invalid regular expression '[': missing ]: [",
        "f: segments[2].id: duplicate segment id 'a': segments[0] has it too; ids must be unique",
        "f: segments[0].when.in_segment: unknown segment 'nowhere'",
        "f: segments[3].when.stage.eq: there is no lifecycle, so no stage 'mql': add a lifecycle "
        "section with stages, or remove the stage test",
    ]


def test_broken_sections_do_not_cause_false_references() -> None:
    """A scores list or lifecycle that cannot be read is reported once, not at every use."""
    document = doc(
        seg({"all": [{"score": "e", "gte": 1}, {"stage": {"eq": "lead"}}]}),
        scores="e",
        lifecycle={"stages": "lead", "rules": [{"stage": "lead", "when": {"all": []}}]},
    )
    assert problems(document) == [
        "f: scores: expected a list of scores, got 'e'",
        "f: lifecycle.stages: stages needs a list of stage names, got 'lead'",
    ]


def test_error_is_a_definition_error_with_problems() -> None:
    with pytest.raises(DefinitionError) as info:
        load_dict(when({"trait": "x", "greater": 1}), "rules.yaml")
    error = info.value
    assert error.source == "rules.yaml"
    assert [(p.path, p.message) for p in error.problems] == [
        ("segments[0].when.trait", "unknown operator 'greater'")
    ]
    assert str(error) == "rules.yaml: segments[0].when.trait: unknown operator 'greater'"


# --- YAML and JSON text and files ---------------------------------------------------------

FIXTURE_LINES = [
    "segments[0].when.event: unknown option 'withn' (did you mean 'within'?)",
    "segments[1].when.trait: unknown operator 'greater'",
    "segments[2].when.all[0].in_segment: unknown segment 'at_risk'",
]


@pytest.mark.parametrize("name", ["invalid.yaml", "invalid.json"])
def test_bad_file(name: str) -> None:
    path = FIXTURES / name
    with pytest.raises(DefinitionError) as info:
        load_file(path)
    assert info.value.lines() == [f"{path}: {line}" for line in FIXTURE_LINES]


@pytest.mark.parametrize(
    ("name", "line"),
    [
        (
            "syntax_error.yaml",
            "line 5, column 1: not valid YAML: did not find expected ',' or '}'",
        ),
        ("syntax_error.json", "line 1, column 81: not valid JSON: Expecting value"),
    ],
)
def test_syntax_error_file(name: str, line: str) -> None:
    path = FIXTURES / name
    with pytest.raises(DefinitionError) as info:
        load_file(path)
    assert info.value.lines() == [f"{path}: {line}"]


@pytest.mark.parametrize("name", ["minimal.yaml", "minimal.json"])
def test_same_rules_in_yaml_and_json(name: str) -> None:
    rules = load_file(FIXTURES / name)
    assert rules == load_file(FIXTURES / "minimal.json")
    assert rules.segments[0].when == Trait(("plan",), Predicate("eq", "pro"))


def test_file_problems(tmp_path: Path) -> None:
    def lines(path: Path) -> list[str]:
        with pytest.raises(DefinitionError) as info:
            load_file(path)
        return info.value.lines()

    missing = tmp_path / "missing.yaml"
    assert lines(missing) == [f"{missing}: cannot read the file: No such file or directory"]
    assert lines(tmp_path) == [f"{tmp_path}: cannot read the file: Is a directory"]
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("version: 1\nname: caf\u00e9\n".encode("latin-1"))
    assert lines(latin1) == [
        f"{latin1}: not UTF-8 text (byte 0xe9 at offset 20): save the file as UTF-8"
    ]
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n")
    assert lines(empty) == [f"{empty}: the file is empty: start it with `version: 1`"]


def test_bom_and_unknown_suffix(tmp_path: Path) -> None:
    path = tmp_path / "rules.txt"
    path.write_bytes(b"\xef\xbb\xbf" + (FIXTURES / "minimal.json").read_bytes())
    assert load_file(path) == load_file(FIXTURES / "minimal.json")


def text_problems(text: str, **kwargs: Any) -> list[str]:
    with pytest.raises(DefinitionError) as info:
        load_text(text, "f", **kwargs)
    return info.value.lines()


# The parser's own words: libyaml's, which the pinned PyYAML wheels include.
@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML without libyaml words these apart")
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "version: 1\nsegments:\n  - id: a\n  when: {all: []}\n",
            ["f: line 4, column 3: not valid YAML: did not find expected '-' indicator"],
        ),
        (
            "version: 1\nsegments:\n\t- id: a\n",
            [
                "f: line 3, column 1: not valid YAML: found character that cannot start any token "
                "(indent with spaces, not tabs)"
            ],
        ),
        (
            "version: 1\n---\nversion: 1\n",
            ["f: line 2, column 1: not valid YAML: but found another document"],
        ),
        (
            "version: 1\nsegments: " + "[" * 5000 + "]" * 5000,
            ["f: line 2, column 1010: not valid YAML: exceeded maximum nesting depth"],
        ),
    ],
)
def test_yaml_syntax_errors(text: str, expected: list[str]) -> None:
    assert text_problems(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "just some words",
            ["f: the top level must be a mapping with version and segments, got 'just some words'"],
        ),
        ("", ["f: the file is empty: start it with `version: 1`"]),
        (
            "version: 1\nversion: 1\nsegments: [{id: a, when: {all: []}}]\n",
            ["f: key 'version' appears more than once"],
        ),
        (
            '{"version": 1, "version": 1, "segments": [{"id": "a", "when": {"all": []}}]}',
            ["f: key 'version' appears more than once"],
        ),
        (
            "version: 1\nsegments: [{id: a, when: {trait: x, eq: 1, eq: 2}}]\n",
            ["f: segments[0].when: key 'eq' appears more than once"],
        ),
        (
            "version: 1\nsegments: [{id: a, when: {event: x, where: {1: x}}}]\n",
            ["f: segments[0].when.where: key 1 is not text: quote it"],
        ),
        (
            "version: 1\nsegments: [{id: a, when: {trait: x, eq: !!timestamp 2026-01-01}}]\n",
            ["f: segments[0].when.eq: a date value is not allowed: quote it as text"],
        ),
        (
            "version: 1\nsegments: [{id: a, when: {trait: x, eq: !!binary aGk=}}]\n",
            ["f: segments[0].when.eq: a bytes value is not allowed: quote it as text"],
        ),
        (
            "version: 1\nsegments: [{id: a, when: {trait: x, gt: .nan}}]\n",
            ["f: segments[0].when.gt: nan is not a finite number"],
        ),
        (
            '{"version": 1, "segments": [{"id": "a", "when": {"trait": "x", "gt": NaN}}]}',
            ["f: segments[0].when.gt: nan is not a finite number"],
        ),
        (
            "version: 1\nsegments: [{id: a, when: {trait: x, gt: !!python/name:os.system }}]\n",
            [
                "f: line 2, column 41: not valid YAML: could not determine a constructor for the "
                "tag 'tag:yaml.org,2002:python/name:os.system'"
            ],
        ),
        ("a: &a [*a]\n", ["f: nested more than 100 levels deep (or refers to itself)"]),
        ("[" * 200 + "]" * 200, ["f: nested more than 100 levels deep (or refers to itself)"]),
        (
            "version: " + "9" * 5000 + "\n",
            [
                "f: line 1, column 10: not valid YAML: Exceeds the limit (4300 digits) for integer "
                "string conversion: value has 5000 digits; use sys.set_int_max_str_digits() to "
                "increase the limit"
            ],
        ),
    ],
)
def test_text_problems(text: str, expected: list[str]) -> None:
    assert text_problems(text) == expected


def test_billion_laughs_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    assert text_problems("\n".join(lines)) == [
        "f: more than 1000000 values once YAML aliases are expanded"
    ]


def test_text_starting_with_a_brace_is_json_or_else_yaml() -> None:
    """Unbalanced JSON is reported as JSON; a YAML flow mapping (JSON with a trailing comma
    is one) is read as YAML."""
    assert text_problems('{"version": 1, "segments": [') == [
        "f: line 1, column 29: not valid JSON: Expecting value"
    ]
    assert text_problems('{"version": 1,}') == ["f: missing required key 'segments'"]
    assert text_problems('{"version": 1,}', syntax="json") == [
        "f: line 1, column 15: not valid JSON: Expecting property name enclosed in double quotes"
    ]


def test_yaml_flow_mapping_is_not_mistaken_for_json() -> None:
    rules = load_text("{version: 1, segments: [{id: a, when: {trait: plan, eq: pro}}]}")
    assert rules.segments[0].id == "a"


@pytest.mark.parametrize(
    ("scalar", "value"),
    [
        ("no", "no"),  # YAML 1.1 would make Norway false
        ("on", "on"),
        ("yes", "yes"),
        ("Off", "Off"),
        ("y", "y"),
        ("true", True),
        ("False", False),
        ("TRUE", True),
        ("010", 10),  # not octal 8
        ("0o17", 15),
        ("0x1F", 31),
        ("-7", -7),
        ("+7", 7),
        ("1_000", "1_000"),
        ("1:30", "1:30"),  # not sexagesimal 90
        ("1e3", 1000.0),
        ("1.5", 1.5),
        (".5", 0.5),
        ("-2.", -2.0),
        ("2026-01-01", "2026-01-01"),  # not a date
        ("2026-01-01T10:00:00Z", "2026-01-01T10:00:00Z"),
        ("=", "="),
        ("30d", "30d"),
        ('"1"', "1"),
    ],
)
def test_yaml_scalars_follow_yaml_1_2_core(scalar: str, value: object) -> None:
    rules = load_text(f"version: 1\nsegments: [{{id: a, when: {{trait: x, eq: {scalar}}}}}]\n")
    operand = rules.segments[0].when.predicate.operand  # type: ignore[union-attr]
    assert operand == value and type(operand) is type(value)


def test_yaml_null_and_merge_keys() -> None:
    assert text_problems("version: 1\nsegments: [{id: a, when: {trait: x, eq: ~}}]\n") == [
        "f: segments[0].when.eq: eq needs one value (text, a number, true or false), got null; "
        "to test that a value is missing use exists: false"
    ]
    rules = load_text(
        "version: 1\n"
        "segments:\n"
        "  - id: a\n"
        "    when: &views {event: page_view, within: 7d}\n"
        "  - id: b\n"
        "    when: {<<: *views, count: {gte: 3}}\n"
        "  - id: c\n"
        "    when: {<<: *views, within: 30d}\n"
    )
    views = Behaviour(("page_view",), (), 7 * DAY, COUNT_1)
    assert rules.segments[0].when == views
    assert rules.segments[1].when == Behaviour(
        ("page_view",), (), 7 * DAY, Aggregate("count", Predicate("gte", 3))
    )
    assert rules.segments[2].when == Behaviour(("page_view",), (), 30 * DAY, COUNT_1)


def test_version_hash() -> None:
    document = doc(seg({"trait": "plan", "eq": "pro"}, id="pro"))
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert content_digest(document) == hashlib.sha256(canonical.encode()).hexdigest()
    expected = content_digest(document)[:12]
    assert load_dict(document).version_hash == expected
    assert load_file(FIXTURES / "minimal.yaml").version_hash == expected
    other = doc(seg({"trait": "plan", "eq": "team"}, id="pro"))
    assert load_dict(other).version_hash != expected
    unicode_doc = doc(seg({"trait": "city", "eq": "Malm\u00f6"}))
    raw = json.dumps(unicode_doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert load_dict(unicode_doc).version_hash == hashlib.sha256(raw.encode()).hexdigest()[:12]


# --- never a traceback --------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("{}[]:,-&*!|>'\"#%@` \n\tabc01.~?<=")), max_size=80))
def test_any_text_loads_or_is_rejected_cleanly(text: str) -> None:
    try:
        load_text(text)
    except DefinitionError as exc:
        assert exc.problems
