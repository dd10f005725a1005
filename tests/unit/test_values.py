"""Every trait operator, with missing values and type mismatches (docs/semantics.md)."""

from __future__ import annotations

from typing import Any

import pytest

from stream.core.evaluation.values import (
    MISSING,
    compile_pattern,
    compile_test,
    distinct_key,
    resolve,
)
from stream.core.language.ast import Predicate


def check(op: str, operand: Any, value: Any, *, ignore_case: bool = False) -> bool:
    pattern = None
    if op == "matches":
        pattern = compile_pattern(operand, ignore_case)
    return compile_test(Predicate(op, operand, ignore_case, pattern))(value)


@pytest.mark.parametrize(
    ("op", "operand", "value", "expected"),
    [
        ("eq", "saas", "saas", True),
        ("eq", "saas", "SaaS", False),
        ("eq", 10, 10.0, True),
        ("eq", 1, True, False),
        ("eq", True, True, True),
        ("eq", "5", 5, False),
        ("ne", "free", "pro", True),
        ("ne", "free", "free", False),
        ("ne", "free", 5, True),
        ("in", ("saas", "software"), "software", True),
        ("in", ("saas", "software"), "retail", False),
        ("in", (1, 2), True, False),
        ("not_in", ("saas",), "retail", True),
        ("not_in", ("saas",), "saas", False),
        ("gt", 10, 11, True),
        ("gt", 10, 10, False),
        ("gt", 10, "11", False),
        ("gt", 10, True, False),
        ("gte", 10, 10.0, True),
        ("lt", 50, 49.5, True),
        ("lt", 50, 50, False),
        ("lte", 50, 50, True),
        ("lt", "m", "a", True),
        ("between", (10, 20), 10, True),
        ("between", (10, 20), 20, True),
        ("between", (10, 20), 20.01, False),
        ("between", (10, 20), "15", False),
        ("exists", True, "x", True),
        ("exists", False, "x", False),
        ("contains", "social", "social media", True),
        ("contains", "social", "Social media", False),
        ("contains", "vip", ["vip", "beta"], True),
        ("contains", 1, [True], False),
        ("contains", "x", 5, False),
        ("starts_with", "/blog", "/blog/kafka", True),
        ("starts_with", "/blog", 5, False),
        ("ends_with", ".com", "a@b.com", True),
        ("matches", r"\bit\b", "head of it", True),
        ("matches", r"\bit\b", "kitten", False),
        ("matches", r"x", 5, False),
    ],
)
def test_operator(op: str, operand: Any, value: Any, expected: bool) -> None:
    assert check(op, operand, value) is expected


@pytest.mark.parametrize(
    "op,operand",
    [
        ("eq", "x"),
        ("ne", "x"),
        ("in", ("x",)),
        ("not_in", ("x",)),
        ("gt", 1),
        ("between", (1, 2)),
        ("contains", "x"),
        ("starts_with", "x"),
        ("matches", "x"),
        ("exists", True),
    ],
)
def test_every_operator_is_false_on_a_missing_value(op: str, operand: Any) -> None:
    assert check(op, operand, MISSING) is False


def test_exists_false_holds_only_for_missing() -> None:
    assert check("exists", False, MISSING) is True


@pytest.mark.parametrize(
    ("op", "operand", "value", "expected"),
    [
        ("eq", "SaaS", "saas", True),
        ("in", ("SaaS",), "saas", True),
        ("not_in", ("SaaS",), "saas", False),
        ("contains", "Social", "social media", True),
        ("contains", "VIP", ["vip"], True),
        ("starts_with", "/BLOG", "/blog/x", True),
        ("matches", "^ceo$", "CEO", True),
    ],
)
def test_ignore_case(op: str, operand: Any, value: Any, expected: bool) -> None:
    assert check(op, operand, value, ignore_case=True) is expected


@pytest.mark.parametrize(
    ("obj", "path", "expected"),
    [
        ({"company": {"industry": "saas"}}, ("company", "industry"), "saas"),
        ({"company": {"industry": None}}, ("company", "industry"), MISSING),
        ({"company": "acme"}, ("company", "industry"), MISSING),
        ({}, ("email",), MISSING),
        ({"n": 0}, ("n",), 0),
        ({"f": False}, ("f",), False),
    ],
)
def test_resolve(obj: dict[str, Any], path: tuple[str, ...], expected: Any) -> None:
    assert resolve(obj, path) is expected or resolve(obj, path) == expected


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [(1, 1.0, True), (1, True, False), ("1", 1, False), (2.5, 2.5, True), (False, 0, False)],
)
def test_distinct_keys_follow_type_aware_equality(a: Any, b: Any, same: bool) -> None:
    assert (distinct_key(a) == distinct_key(b)) is same


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [({"a": 1}, {"a": 1.0}, True), ([1, 2], [1.0, 2], True), ([1], [True], False)],
)
def test_distinct_keys_of_objects_and_lists_follow_type_aware_equality(
    a: Any, b: Any, same: bool
) -> None:
    assert (distinct_key(a) == distinct_key(b)) is same
