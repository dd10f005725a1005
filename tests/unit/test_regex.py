"""`matches` on untrusted text: RE2's linear time, the syntax it refuses as load errors with
their path, and the bound on the text a condition reads."""

from __future__ import annotations

import time

import pytest

from stream.core.evaluation.values import compile_pattern, compile_test
from stream.core.language.ast import Predicate
from stream.core.limits import DEFAULT_LIMITS, Limits
from tests.unit.test_loader import W, problems, when


def matches(pattern: str, value: object, limits: Limits = DEFAULT_LIMITS) -> bool:
    predicate = Predicate("matches", pattern, False, compile_pattern(pattern))
    return compile_test(predicate, limits)(value)


def test_a_catastrophic_pattern_takes_linear_time() -> None:
    """With Python's backtracking `re`, (a+)+$ on 28 a's and a ! took 15 s (36 s in the
    issue's probe), doubling with each further character."""
    value = "a" * (DEFAULT_LIMITS.match_chars - 1) + "!"
    started = time.perf_counter()
    assert not matches("(a+)+$", value)
    assert not matches("^(a|aa)*$", value)
    assert not matches("(x+x+)+y", "x" * DEFAULT_LIMITS.match_chars)
    assert time.perf_counter() - started < 0.5  # RE2: well under a millisecond each


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("(?i)\\b(it|devops)\\b", "Senior DevOps engineer", True),
        ("^ab+$", "abbb", True),
        ("^ab+$", "abbb\n", False),  # RE2's $ is the end of the text, not before a newline
        ("\\pL+", "\u00e9t\u00e9", True),
        ("caf\u00e9", "un caf\u00e9", True),
        ("^.$", "\u00e9", True),  # one character, however many UTF-8 bytes
    ],
)
def test_re2_semantics(pattern: str, value: str, expected: bool) -> None:
    assert matches(pattern, value) is expected


def test_ignore_case_folds_unicode() -> None:
    predicate = Predicate("matches", "^\u00c9COLE$", True, compile_pattern("^\u00c9COLE$", True))
    assert compile_test(predicate)("\u00e9cole")


def test_a_value_longer_than_the_bound_does_not_match() -> None:
    limits = Limits(match_chars=10)
    assert matches("a", "a" * 10, limits)
    assert not matches("a", "a" * 11, limits)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("(?=a)b", "invalid perl operator: (?=: RE2 has no look-ahead"),
        ("(?!a)b", "invalid perl operator: (?!: RE2 has no look-ahead"),
        ("(?<=a)b", "invalid perl operator: (?<=: RE2 has no look-behind"),
        ("(a)\\1", "invalid escape sequence: \\1: RE2 has no backreferences"),
        ("a\\Z", "invalid escape sequence: \\Z: write \\z for the end of the text"),
        ("a++", "bad repetition operator: ++"),
        ("a{1001}", "invalid repetition size: {1001}"),
        ("(it|ops", "missing ): (it|ops"),
    ],
)
def test_syntax_re2_refuses_is_a_load_error_with_its_path(pattern: str, message: str) -> None:
    shown = repr(pattern)
    assert problems(when({"trait": "x", "matches": pattern})) == [
        f"{W}.matches: invalid regular expression {shown}: {message}"
    ]


def test_refused_syntax_in_where_has_its_path_too() -> None:
    condition = {"event": "page_view", "where": {"path": {"matches": "(?<=/)x"}}}
    assert problems(when(condition)) == [
        f"{W}.where.path.matches: invalid regular expression '(?<=/)x': "
        "invalid perl operator: (?<=: RE2 has no look-behind"
    ]
