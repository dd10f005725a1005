"""Operators and operands in definition files: value, numeric and stage tests, and where."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stream.core.evaluation.values import compile_pattern
from stream.core.language.ast import (
    NUMERIC_OPERATORS,
    STAGE_OPERATORS,
    VALUE_OPERATORS,
    Path,
    Pattern,
    Predicate,
    PropertyFilter,
)
from stream.core.language.validate_context import (
    Context,
    check_name,
    check_path,
    describe,
    did_you_mean,
    is_number,
    is_scalar,
    join,
)

_ORDERING = frozenset({"gt", "gte", "lt", "lte"})
_TEXT_ONLY = frozenset({"starts_with", "ends_with", "matches"})
_SCALAR_TEXT = "text, a number, true or false"


def pick_operator(
    node: Mapping[str, object],
    at: str,
    ctx: Context,
    operators: tuple[str, ...],
    others: tuple[str, ...] = (),
) -> str | None:
    """The one operator key of `node` (besides `others`), reporting any other problem at `at`."""
    unknown = [key for key in node if key not in operators and key not in others]
    for key in unknown:
        ctx.structure(at, f"unknown operator {key!r}{did_you_mean(key, operators + others)}")
    present = [key for key in node if key in operators]
    if len(present) > 1:
        ctx.structure(
            at,
            f"more than one operator ({', '.join(present)}): "
            "use one here and combine conditions with all",
        )
    elif not present and not unknown:
        ctx.structure(at, f"missing operator: add one of {', '.join(operators)}")
    return present[0] if len(present) == 1 else None


def parse_value_test(
    node: Mapping[str, object], path: str, ctx: Context, subject: str | None = None
) -> Predicate | None:
    """The predicate of a trait condition (`subject` "trait") or of a where mapping.

    Problems with the choice of operator are reported at ``path.subject``, as in
    ``segments[3].when.all[1].trait: unknown operator 'greater'``.
    """
    at = join(path, subject) if subject else path
    others = ("ignore_case", subject) if subject else ("ignore_case",)
    op = pick_operator(node, at, ctx, VALUE_OPERATORS, others)
    ignore_case = node.get("ignore_case", False)
    if not isinstance(ignore_case, bool):
        ctx.structure(
            join(path, "ignore_case"),
            f"ignore_case needs true or false, got {describe(ignore_case)}",
        )
        ignore_case = False
    if op is None:
        return None
    return _value_predicate(op, node[op], join(path, op), ctx, ignore_case)


def _value_predicate(
    op: str, value: object, path: str, ctx: Context, ignore_case: bool
) -> Predicate | None:
    operand: Any = value
    if op in ("in", "not_in"):
        operand = scalar_list(value, path, ctx, op)
    elif op == "between":
        operand = parse_range(value, path, ctx, numbers_only=False)
    elif op == "exists":
        if not isinstance(value, bool):
            ctx.structure(path, f"exists needs true or false, got {describe(value)}")
            operand = None
    elif op in _ORDERING:
        if not (is_number(value) or isinstance(value, str)):
            ctx.structure(path, f"{op} needs a number or text, got {describe(value)}")
            operand = None
    elif op in _TEXT_ONLY:
        if not isinstance(value, str):
            ctx.structure(path, f"{op} needs text, got {describe(value)}: quote it")
            operand = None
    elif not is_scalar(value):  # eq, ne, contains
        hint = ""
        if isinstance(value, list) and op != "contains":
            hint = f"; for one of several values use {'in' if op == 'eq' else 'not_in'}"
        elif value is None:
            hint = "; to test that a value is missing use exists: false"
        ctx.structure(path, f"{op} needs one value ({_SCALAR_TEXT}), got {describe(value)}{hint}")
        operand = None
    if operand is None:
        return None
    pattern = _compile(operand, path, ctx, ignore_case) if op == "matches" else None
    if op == "matches" and pattern is None:
        return None
    return Predicate(op, operand, ignore_case, pattern)


def _compile(text: str, path: str, ctx: Context, ignore_case: bool) -> Pattern | None:
    try:
        return compile_pattern(text, ignore_case)
    except ValueError as exc:
        ctx.meaning_problem(path, f"invalid regular expression {describe(text)}: {exc}")
        return None


def scalar_list(value: object, path: str, ctx: Context, what: str) -> tuple[object, ...] | None:
    """A non-empty list of strings, numbers and booleans, as a tuple."""
    if not isinstance(value, list):
        ctx.structure(
            path, f"{what} needs a list of values, e.g. [saas, software], got {describe(value)}"
        )
        return None
    if not value:
        ctx.structure(path, f"{what} needs at least one value")
        return None
    bad = [(i, item) for i, item in enumerate(value) if not is_scalar(item)]
    for index, item in bad:
        ctx.structure(join(path, index), f"expected {_SCALAR_TEXT}, got {describe(item)}")
    return None if bad else tuple(value)


def parse_range(
    value: object, path: str, ctx: Context, *, numbers_only: bool
) -> tuple[Any, Any] | None:
    """`between: [lo, hi]`: two numbers (or, unless `numbers_only`, two texts), lo <= hi."""
    if isinstance(value, list) and len(value) == 2:
        lo, hi = value
        numbers = is_number(lo) and is_number(hi)
        texts = not numbers_only and isinstance(lo, str) and isinstance(hi, str)
        if numbers or texts:
            if lo > hi:
                ctx.meaning_problem(
                    path,
                    f"between {describe(value)} is empty because lo is greater than hi: "
                    f"write [{describe(hi)}, {describe(lo)}]",
                )
                return None
            return (lo, hi)
    kinds = "two numbers" if numbers_only else "two numbers or two texts"
    ctx.structure(path, f"between needs [lo, hi] with {kinds}, got {describe(value)}")
    return None


def parse_numeric_test(
    node: Mapping[str, object], base: str, at: str, ctx: Context, others: tuple[str, ...] = ()
) -> Predicate | None:
    """One numeric comparison such as ``gte: 3`` in `node`; operator problems go to `at`."""
    op = pick_operator(node, at, ctx, NUMERIC_OPERATORS, others)
    if op is None:
        return None
    value, path = node[op], join(base, op)
    if op == "between":
        operand = parse_range(value, path, ctx, numbers_only=True)
        return None if operand is None else Predicate(op, operand)
    if not is_number(value):
        ctx.structure(path, f"{op} needs a number, got {describe(value)}")
        return None
    return Predicate(op, value)


def parse_stage_test(value: object, path: str, ctx: Context) -> Predicate | None:
    """`stage: {gte: mql}`; the names are resolved against the lifecycle later."""
    if not isinstance(value, dict):
        ctx.structure(path, f"stage needs a comparison such as {{gte: mql}}, got {describe(value)}")
        return None
    op = pick_operator(value, path, ctx, STAGE_OPERATORS)
    if op is None:
        return None
    operand, op_path = value[op], join(path, op)
    if op not in ("in", "not_in"):
        name = check_name(operand, op_path, ctx, "stage name")
        if name is not None:
            ctx.use("stage", name, op_path)
        return None if name is None else Predicate(op, name)
    if not isinstance(operand, list) or not operand:
        ctx.structure(
            op_path, f"{op} needs a list of stage names, e.g. [mql, sql], got {describe(operand)}"
        )
        return None
    names = []
    for index, item in enumerate(operand):
        name = check_name(item, join(op_path, index), ctx, "stage name")
        if name is not None:
            ctx.use("stage", name, join(op_path, index))
        names.append(name)
    return None if None in names else Predicate(op, tuple(names))


def parse_where(value: object, path: str, ctx: Context) -> tuple[PropertyFilter, ...] | None:
    """Filters on event properties: a bare value means eq, a bare list means in."""
    if not isinstance(value, dict):
        ctx.structure(
            path,
            "where needs a mapping of event property to value, e.g. {path: /pricing}, "
            f"got {describe(value)}",
        )
        return None
    filters: list[PropertyFilter | None] = []
    for key, test in value.items():
        key_path = join(path, key)
        prop: Path | None = check_path(key, key_path, ctx, "property path")
        predicate: Predicate | None = None
        if isinstance(test, dict):
            predicate = parse_value_test(test, key_path, ctx)
        elif isinstance(test, list):
            items = scalar_list(test, key_path, ctx, "the list")
            predicate = None if items is None else Predicate("in", items)
        elif is_scalar(test):
            predicate = Predicate("eq", test)
        else:
            ctx.structure(
                key_path,
                "a property value cannot be null: to test that it is missing, "
                "write {exists: false}",
            )
        filters.append(
            None if prop is None or predicate is None else PropertyFilter(prop, predicate)
        )
    return None if None in filters else tuple(f for f in filters if f is not None)
