"""The catalog: plain-English criteria for every condition kind, what segments read and refer
to, and the committed catalog of the example rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from stream.cli.main import main
from stream.core.catalog.english import describe, duration, goal
from stream.core.catalog.entries import catalog
from stream.core.catalog.render import html, markdown
from stream.core.language.ast import Goal
from stream.core.language.loader import load_dict, load_file
from stream.testing import EXAMPLE_RULES

ROOT = Path(__file__).resolve().parents[2]


def _ruleset(when: Any) -> Any:
    return load_dict(
        {
            "version": 1,
            "scores": [{"id": "engagement", "rules": [{"event": "email_open", "points": 1}]}],
            "lifecycle": {
                "stages": ["lead", "mql", "customer"],
                "rules": [{"stage": "lead", "when": {"trait": "email", "exists": True}}],
            },
            "segments": [
                {"id": "customers", "when": {"event": "purchase"}},
                {"id": "s", "when": when},
            ],
        }
    )


def _criteria(when_yaml: str) -> str:
    return describe(_ruleset(yaml.safe_load(when_yaml)).segments[1].when)


CASES = [
    # boolean
    ("{all: []}", "always"),
    ("{any: []}", "never"),
    ("{all: [{trait: a, eq: 1}]}", "a is 1"),
    ("{all: [{trait: a, eq: 1}, {trait: b, eq: 2}]}", "a is 1 and b is 2"),
    ("{any: [{trait: a, eq: 1}, {trait: b, eq: 2}]}", "a is 1 or b is 2"),
    (
        "{all: [{any: [{trait: a, eq: 1}, {trait: b, eq: 2}]}, {trait: c, eq: 3}]}",
        "(a is 1 or b is 2) and c is 3",
    ),
    ("{not: {trait: a, eq: 1}}", "not a is 1"),
    ("{not: {all: [{trait: a, eq: 1}, {trait: b, eq: 2}]}}", "not (a is 1 and b is 2)"),
    ("{not: {trait: email, exists: true}}", "email is not set"),
    # every trait operator
    ("{trait: company.industry, eq: saas}", "company.industry is saas"),
    ("{trait: plan, ne: free}", "plan is not free"),
    (
        "{trait: company.industry, in: [saas, software]}",
        "company.industry is one of saas, software",
    ),
    ("{trait: country, not_in: [fr, de]}", "country is none of fr, de"),
    ("{trait: company.employees, gt: 50}", "company.employees is more than 50"),
    ("{trait: company.employees, gte: 1000}", "company.employees is at least 1000"),
    ("{trait: age, lt: 30}", "age is less than 30"),
    ("{trait: age, lte: 30.5}", "age is at most 30.5"),
    ("{trait: age, between: [18, 65]}", "age is between 18 and 65"),
    ("{trait: email, exists: true}", "email is set"),
    ("{trait: email, exists: false}", "email is not set"),
    ("{trait: job_title, contains: social}", "job_title contains social"),
    (
        "{trait: job_title, contains: social, ignore_case: true}",
        "job_title contains social (ignoring case)",
    ),
    ("{trait: email, starts_with: admin}", "email starts with admin"),
    ("{trait: email, ends_with: '@acme.com'}", "email ends with @acme.com"),
    ("{trait: title, matches: '^vp '}", "title matches the pattern '^vp '"),
    ("{trait: newsletter, eq: true}", "newsletter is true"),
    ("{trait: name, eq: 'Jo Bloggs'}", "name is 'Jo Bloggs'"),
    # behaviour: types, filters, windows and every aggregate
    ("{event: purchase}", "did purchase at least once"),
    ("{event: [email_open, email_click]}", "did email_open or email_click at least once"),
    (
        "{event: page_view, where: {path: /pricing}, within: 7d, count: {gte: 3}}",
        "did page_view with path is /pricing at least 3 times in the last 7 days",
    ),
    (
        "{event: page_view, where: {duration_s: {gte: 30}, path: /a}, within: 36h}",
        "did page_view with duration_s is at least 30 and path is /a at least once"
        " in the last 36 hours",
    ),
    ("{event: login, count: {eq: 2}}", "did login exactly twice"),
    ("{event: login, count: {ne: 3}}", "did login other than 3 times"),
    ("{event: login, count: {gt: 3}}", "did login more than 3 times"),
    (
        "{event: login, count: {lt: 3}, within: 2w}",
        "did login fewer than 3 times in the last 14 days",
    ),
    (
        "{event: login, count: {lte: 3}, within: 90s}",
        "did login at most 3 times in the last 90 seconds",
    ),
    (
        "{event: login, count: {between: [2, 4]}, within: 15m}",
        "did login between 2 and 4 times in the last 15 minutes",
    ),
    (
        "{event: purchase, within: 365d, sum: {property: amount, gte: 10000}}",
        "did purchase where the total amount is at least 10000 in the last 365 days",
    ),
    (
        "{event: purchase, avg: {property: amount, gt: 10}}",
        "did purchase where the average amount is more than 10",
    ),
    (
        "{event: purchase, min: {property: amount, lt: 1}}",
        "did purchase where the smallest amount is less than 1",
    ),
    (
        "{event: purchase, max: {property: amount, lte: 5}}",
        "did purchase where the largest amount is at most 5",
    ),
    (
        "{event: content_download, within: 90d, distinct: {property: content_id, gte: 3}}",
        "did content_download where the number of different content_id values is at least 3"
        " in the last 90 days",
    ),
    ("{not: {event: login, within: 14d}}", "did no login in the last 14 days"),
    ("{not: {event: login, count: {gte: 3}}}", "not (did login at least 3 times)"),
    # scores, segments, stages
    ("{score: engagement, gte: 50}", "score engagement is at least 50"),
    ("{score: engagement, between: [10, 20]}", "score engagement is between 10 and 20"),
    ("{in_segment: customers}", "is in segment customers"),
    ("{not: {in_segment: customers}}", "is not in segment customers"),
    ("{stage: {gte: mql}}", "lifecycle stage is at least mql"),
    ("{stage: {eq: customer}}", "lifecycle stage is customer"),
    ("{stage: {in: [lead, mql]}}", "lifecycle stage is one of lead, mql"),
    ("{stage: {not_in: [lead]}}", "lifecycle stage is none of lead"),
    ("{stage: {lt: customer}}", "lifecycle stage is less than customer"),
]


@pytest.mark.parametrize(("when", "text"), CASES)
def test_plain_english(when: str, text: str) -> None:
    assert _criteria(when) == text


@pytest.mark.parametrize(
    ("micros", "text"),
    [(7 * 86_400_000_000, "7 days"), (36 * 3_600_000_000, "36 hours"), (1_000_000, "1 second")],
)
def test_duration_in_words(micros: int, text: str) -> None:
    assert duration(micros) == text


@pytest.mark.parametrize(
    ("target", "text"),
    [
        (Goal("stage", "customer", 30 * 86_400_000_000), "becomes a customer (or a later stage) "
         "within 30 days"),
        (Goal("stage", "evangelist", 7 * 86_400_000_000), "becomes an evangelist (or a later "
         "stage) within 7 days"),
        (Goal("segment", "purchasers", 14 * 86_400_000_000), "enters purchasers within 14 days"),
    ],
)  # fmt: skip
def test_goal_in_words(target: Goal, text: str) -> None:
    assert goal(target) == text


def test_reads_and_references_of_the_example_rules() -> None:
    entries = {e.segment.id: e for e in catalog(load_file(EXAMPLE_RULES))}
    mql = entries["marketing_qualified"]
    assert mql.refers_to == ("guide_downloaders", "unsubscribed")
    assert mql.referred_by == ("stage:mql",)
    assert mql.reads.scores == ("engagement",)
    assert "webinar_attend" in mql.reads.events and "content_type" in mql.reads.properties
    assert entries["unsubscribed"].referred_by == ("email_disengaged", "marketing_qualified")
    assert entries["mql_startups"].reads.stage
    assert entries["mql_startups"].reads.traits == ("company.employees", "company.industry")
    assert entries["content_bingers"].reads.properties == ("content_id",)
    assert entries["churn_rescue"].segment.holdout == 0.2
    assert entries["churn_rescue"].size is None


def test_live_sizes_are_shown_and_missing_ones_are_zero() -> None:
    ruleset = load_file(EXAMPLE_RULES)
    entries = catalog(ruleset, {"abm_lookalikes": (40, 4)})
    text = markdown(entries)
    assert "| Live size | 40 (4 held out) |" in text
    assert "| Live size | 0 (0 held out) |" in text
    assert '<section id="seg-abm_lookalikes">' in html(entries)


def test_markdown_escapes_table_cells() -> None:
    entries = catalog(_ruleset({"trait": "t", "matches": "a|b"}))
    assert "t matches the pattern a\\|b" in markdown(entries)


def test_the_committed_example_catalog_is_current() -> None:
    result = CliRunner().invoke(main, ["catalog", "--no-sizes"], env={"SEGSTREAM_RULES_FILE": ""})
    assert result.exit_code == 0, result.output
    committed = (ROOT / "docs" / "example-catalog.md").read_text()
    assert result.stdout == committed, "run: segstream catalog --no-sizes > docs/example-catalog.md"
