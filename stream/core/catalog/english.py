"""Plain-English text of a condition tree, for marketers reading the catalog."""

from __future__ import annotations

from typing import Any

from stream.core.language.ast import (
    Aggregate,
    All,
    Any_,
    Behaviour,
    Condition,
    Goal,
    InSegment,
    Not,
    Predicate,
    PropertyFilter,
    ScoreTest,
    StageTest,
    Trait,
)
from stream.core.language.durations import UNITS

# How a value operator reads after its subject ("company.industry is one of saas, software").
_VALUE_PHRASES = {
    "eq": "is {}",
    "ne": "is not {}",
    "gt": "is more than {}",
    "gte": "is at least {}",
    "lt": "is less than {}",
    "lte": "is at most {}",
    "contains": "contains {}",
    "starts_with": "starts with {}",
    "ends_with": "ends with {}",
    "matches": "matches the pattern {}",
}
# How a count test reads after the event ("at least 3 times").
_COUNT_PHRASES = {
    "eq": "exactly {}",
    "ne": "other than {}",
    "gt": "more than {}",
    "gte": "at least {}",
    "lt": "fewer than {}",
    "lte": "at most {}",
}
_AGGREGATE_NOUNS = {
    "sum": "total",
    "avg": "average",
    "min": "smallest",
    "max": "largest",
}
# Days rather than weeks: "the last 7 days" is how marketers say it.
_DURATION_NOUNS = (("d", "day"), ("h", "hour"), ("m", "minute"), ("s", "second"))


def describe(condition: Condition) -> str:
    """The condition as one English sentence fragment, e.g. "did page_view ... 3 times"."""
    return _text(condition, nested=False)


def _text(condition: Condition, nested: bool) -> str:
    match condition:
        case All(items=()):
            return "always"
        case Any_(items=()):
            return "never"
        case All(items=(only,)) | Any_(items=(only,)):
            return _text(only, nested)
        case All(items=items):
            return _joined(items, " and ", nested)
        case Any_(items=items):
            return _joined(items, " or ", nested)
        case Not(item=item):
            return _negated(item)
        case Trait(path=path, predicate=predicate):
            return f"{'.'.join(path)} {value_test(predicate)}"
        case Behaviour():
            return _behaviour(condition, negated=False)
        case ScoreTest(score=score, predicate=predicate):
            return f"score {score} {value_test(predicate)}"
        case InSegment(segment=segment):
            return f"is in segment {segment}"
        case StageTest(predicate=predicate):
            return f"lifecycle stage {value_test(predicate)}"
    raise TypeError(f"not a condition: {condition!r}")


def _joined(items: tuple[Condition, ...], glue: str, nested: bool) -> str:
    text = glue.join(_text(item, nested=True) for item in items)
    return f"({text})" if nested else text


def _negated(item: Condition) -> str:
    match item:
        case InSegment(segment=segment):
            return f"is not in segment {segment}"
        case Behaviour():
            return _behaviour(item, negated=True)
        case Trait(path=path, predicate=Predicate(op="exists", operand=exists)):
            return f"{'.'.join(path)} {'is not set' if exists else 'is set'}"
    return f"not {_text(item, nested=True)}"


def value_test(predicate: Predicate) -> str:
    """An operator and its operand after a subject: "is one of saas, software"."""
    op, operand = predicate.op, predicate.operand
    if op == "in":
        text = f"is one of {_list(operand)}"
    elif op == "not_in":
        text = f"is none of {_list(operand)}"
    elif op == "between":
        text = f"is between {_value(operand[0])} and {_value(operand[1])}"
    elif op == "exists":
        text = "is set" if operand else "is not set"
    else:
        text = _VALUE_PHRASES[op].format(_value(operand))
    return text + (" (ignoring case)" if predicate.ignore_case else "")


def _behaviour(behaviour: Behaviour, negated: bool) -> str:
    types = " or ".join(behaviour.types)
    where = _where(behaviour.where)
    window = f" in the last {duration(behaviour.within)}" if behaviour.within else ""
    aggregate = behaviour.aggregate
    if negated and _is_default_count(aggregate):
        return f"did no {types}{where}{window}"
    text = f"did {types}{where} {_aggregate(aggregate)}{window}"
    return f"not ({text})" if negated else text


def _where(filters: tuple[PropertyFilter, ...]) -> str:
    if not filters:
        return ""
    tests = [f"{'.'.join(f.path)} {value_test(f.predicate)}" for f in filters]
    return " with " + " and ".join(tests)


def _is_default_count(aggregate: Aggregate) -> bool:
    return aggregate.kind == "count" and aggregate.predicate == Predicate("gte", 1)


def _aggregate(aggregate: Aggregate) -> str:
    predicate = aggregate.predicate
    if aggregate.kind == "count":
        if predicate.op == "between":
            low, high = predicate.operand
            return f"between {_value(low)} and {_value(high)} times"
        count = predicate.operand
        times = "once" if count == 1 else "twice" if count == 2 else f"{_value(count)} times"
        return f"{_COUNT_PHRASES[predicate.op].format(times)}"
    prop = ".".join(aggregate.property or ())
    if aggregate.kind == "distinct":
        return f"where the number of different {prop} values {value_test(predicate)}"
    return f"where the {_AGGREGATE_NOUNS[aggregate.kind]} {prop} {value_test(predicate)}"


def goal(target: Goal) -> str:
    """A segment's goal in words: "becomes a customer (or a later stage) within 30 days"."""
    within = duration(target.within)
    if target.kind == "segment":
        return f"enters {target.target} within {within}"
    article = "an" if target.target[:1] in "aeiou" else "a"
    return f"becomes {article} {target.target} (or a later stage) within {within}"


def duration(micros: int) -> str:
    """A window in words, in the largest unit that divides it: "7 days", "36 hours"."""
    for unit, noun in _DURATION_NOUNS:
        if micros % UNITS[unit] == 0:
            count = micros // UNITS[unit]
            return f"{count} {noun}" + ("" if count == 1 else "s")
    return f"{micros / UNITS['s']:g} seconds"


def _list(values: Any) -> str:
    return ", ".join(_value(v) for v in values)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value and value.strip() == value and " " not in value else repr(value)
    return str(value)
