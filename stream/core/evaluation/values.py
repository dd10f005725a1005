"""Value tests: dotted-path lookup and the operators of trait and property conditions.

Every test takes the looked-up value (or MISSING) and returns a bool; none raises on a type
mismatch. The rules are in docs/semantics.md ("Values and operators").
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, Final

import orjson
import re2

from stream.core.language.ast import Path, Pattern, Predicate
from stream.core.limits import DEFAULT_LIMITS, Limits


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final[Any] = _Missing()

ValueTest = Callable[[Any], bool]


def resolve(obj: Any, path: Path) -> Any:
    """Follow `path` into nested objects; MISSING when a step is absent, not an object, or null."""
    for key in path:
        if not isinstance(obj, dict):
            return MISSING
        obj = obj.get(key)
        if obj is None:
            return MISSING
    return obj


def is_number(value: Any) -> bool:
    return (type(value) is int) or (type(value) is float)


def _kind(value: Any) -> type:
    kind = type(value)
    return float if kind is int else kind


def same(a: Any, b: Any) -> bool:
    """Type-aware equality: numbers equal numbers by value, `True` is not `1`."""
    if _kind(a) is not _kind(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def fold(value: Any) -> Any:
    """Case-fold strings, also inside lists; other values are returned as they are."""
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, list):
        return [fold(v) for v in value]
    if isinstance(value, tuple):
        return tuple(fold(v) for v in value)
    return value


def _orderable(a: Any, b: Any) -> bool:
    if is_number(a):
        return is_number(b)
    return isinstance(a, str) and isinstance(b, str)


def compile_test(predicate: Predicate, limits: Limits = DEFAULT_LIMITS) -> ValueTest:
    """Turn a predicate into a fast one-argument test of a looked-up value.

    A `matches` test reads at most `limits.match_chars` characters: a longer text does not
    match.
    """
    op, operand = predicate.op, predicate.operand
    if op == "exists":
        wanted = bool(operand)
        return lambda v: (v is not MISSING) is wanted
    if op == "matches":
        assert predicate.pattern is not None
        search = predicate.pattern.search
        longest = limits.match_chars
        return lambda v: isinstance(v, str) and len(v) <= longest and search(v.encode()) is not None
    if predicate.ignore_case:
        test = _compile_plain(op, fold(operand))
        return lambda v: v is not MISSING and test(fold(v))
    fast = _compile_scalar(op, operand)
    if fast is not None:
        return fast
    test = _compile_plain(op, operand)
    return lambda v: v is not MISSING and test(v)


_NUMBER_TYPES = (int, float)

# What to write instead of syntax that Python's `re` has and RE2 refuses.
_RE2_HINTS = {
    "invalid perl operator: (?=": "RE2 has no look-ahead",
    "invalid perl operator: (?!": "RE2 has no look-ahead",
    "invalid perl operator: (?<": "RE2 has no look-behind",
    "invalid escape sequence: \\Z": "write \\z for the end of the text",
    **{f"invalid escape sequence: \\{d}": "RE2 has no backreferences" for d in "123456789"},
}


def compile_pattern(text: str, ignore_case: bool = False) -> Pattern:
    """Compile a `matches` pattern with RE2, whose searches take time linear in the text.

    Raises ValueError with RE2's reason when RE2 refuses the pattern: look-around and
    backreferences, for example, which only a backtracking engine can run.
    """
    options = re2.Options()
    options.log_errors = False  # RE2 would print to stderr; the reason goes into the error
    options.never_capture = True  # a test needs only whether it matched, which is faster
    options.case_sensitive = not ignore_case
    try:
        pattern: Pattern = re2.compile(text, options)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args else "refused by RE2"
        hint = next((h for prefix, h in _RE2_HINTS.items() if reason.startswith(prefix)), None)
        raise ValueError(f"{reason}: {hint}" if hint else reason) from None
    return pattern


def _compile_scalar(op: str, operand: Any) -> ValueTest | None:
    """Fast tests for the common case of string or number operands; None for the rest.

    They give the same answers as the general tests (MISSING is neither str nor a number).
    """
    kinds = {type(o) for o in operand} if op in ("in", "not_in") else {type(operand)}
    if kinds == {str}:
        return _text_test(op, operand)
    if kinds and kinds <= {int, float}:
        return _number_test(op, operand)
    return None


# The kind checks below are written out in every test rather than called: these run for
# each condition an event re-evaluates, and a call costs more than the test itself.
# A kind check always comes before `in` (a list or an object is not hashable).


def _text_test(op: str, operand: Any) -> ValueTest | None:
    if op == "eq":
        return lambda v: v == operand and type(v) is str
    if op == "ne":
        return lambda v: v is not MISSING and not (v == operand and type(v) is str)
    if op == "in":
        members = frozenset(operand)
        return lambda v: type(v) is str and v in members
    if op == "not_in":
        members = frozenset(operand)
        return lambda v: v is not MISSING and not (type(v) is str and v in members)
    if op == "gt":
        return lambda v: type(v) is str and v > operand
    if op == "gte":
        return lambda v: type(v) is str and v >= operand
    if op == "lt":
        return lambda v: type(v) is str and v < operand
    if op == "lte":
        return lambda v: type(v) is str and v <= operand
    return None


def _number_test(op: str, operand: Any) -> ValueTest | None:
    if op == "eq":
        return lambda v: v == operand and (type(v) is int or type(v) is float)
    if op == "ne":
        return lambda v: (
            v is not MISSING and not (v == operand and (type(v) is int or type(v) is float))
        )
    if op == "in":
        members = frozenset(operand)
        return lambda v: (type(v) is int or type(v) is float) and v in members
    if op == "not_in":
        members = frozenset(operand)
        return lambda v: (
            v is not MISSING and not ((type(v) is int or type(v) is float) and v in members)
        )
    if op == "gt":
        return lambda v: (type(v) is int or type(v) is float) and v > operand
    if op == "gte":
        return lambda v: (type(v) is int or type(v) is float) and v >= operand
    if op == "lt":
        return lambda v: (type(v) is int or type(v) is float) and v < operand
    if op == "lte":
        return lambda v: (type(v) is int or type(v) is float) and v <= operand
    return None


def _compile_plain(op: str, operand: Any) -> ValueTest:
    if op == "eq":
        return lambda v: same(v, operand)
    if op == "ne":
        return lambda v: not same(v, operand)
    if op == "in":
        return lambda v: any(same(v, o) for o in operand)
    if op == "not_in":
        return lambda v: not any(same(v, o) for o in operand)
    if op == "gt":
        return lambda v: _orderable(v, operand) and v > operand
    if op == "gte":
        return lambda v: _orderable(v, operand) and v >= operand
    if op == "lt":
        return lambda v: _orderable(v, operand) and v < operand
    if op == "lte":
        return lambda v: _orderable(v, operand) and v <= operand
    if op == "between":
        lo, hi = operand
        return lambda v: _orderable(v, lo) and _orderable(v, hi) and lo <= v <= hi
    if op == "contains":
        return lambda v: _contains(v, operand)
    if op == "starts_with":
        return lambda v: isinstance(v, str) and isinstance(operand, str) and v.startswith(operand)
    if op == "ends_with":
        return lambda v: isinstance(v, str) and isinstance(operand, str) and v.endswith(operand)
    raise ValueError(f"unknown operator {op!r}")


def compile_numeric_test(predicate: Predicate) -> ValueTest:
    """A faster test for aggregate and score values, which are numbers or MISSING."""
    op, operand = predicate.op, predicate.operand
    if op == "between":
        lo, hi = operand
        return lambda v: v is not MISSING and lo <= v <= hi
    if op == "gte":  # the usual aggregate test, spelled out (see _text_test)
        return lambda v: v is not MISSING and v >= operand
    if op == "gt":
        return lambda v: v is not MISSING and v > operand
    compare = _NUMERIC[op]
    return lambda v: v is not MISSING and compare(v, operand)


_NUMERIC: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def _contains(value: Any, operand: Any) -> bool:
    if isinstance(value, str):
        return isinstance(operand, str) and operand in value
    if isinstance(value, list):
        return any(same(member, operand) for member in value)
    return False


# orjson reads and writes ints from -2**63 to 2**64 - 1; beyond, numbers are floats.
_INT_LOW = -(2.0**63)
_INT_HIGH = 2.0**64


def distinct_key(value: Any) -> str:
    """A string key under which type-aware-equal values coincide (1 and 1.0, not 1 and True)."""
    if type(value) is int:
        return f"n:{value}"
    if type(value) is float:
        return f"n:{int(value)}" if value.is_integer() else f"n:{value!r}"
    if isinstance(value, str):
        return "s:" + value
    if isinstance(value, bool):
        return "b:1" if value else "b:0"
    return "j:" + orjson.dumps(_integral(value), option=orjson.OPT_SORT_KEYS).decode()


def _integral(value: Any) -> Any:
    """Whole floats as ints, also inside lists and objects, so 1.0 and 1 serialise alike.

    Only within the 64-bit range orjson writes ints in (and the only ints JSON input holds):
    `[1e30]` stays a float rather than become an int that cannot be serialised.
    """
    if type(value) is float and value.is_integer() and _INT_LOW <= value < _INT_HIGH:
        return int(value)
    if isinstance(value, list):
        return [_integral(v) for v in value]
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    return value
