"""The records of the definitions topic and what changes from one version to the next.

Two kinds of record share the compacted topic (one partition, so its order is the order of
publishing): a version, keyed `version:<rules_version>`, holding the definition file's
text; and a switch, keyed `switched:<group>:<partition>`, that a worker writes when a
partition of its group switched versions. Compaction keeps every version once (its latest
publishing) and the last switch of every partition.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal, NamedTuple

import orjson

from stream.core.language import ast
from stream.core.timefmt import format_ts, parse_ts

VERSION_PREFIX = "version:"
SWITCH_PREFIX = "switched:"

Status = Literal["added", "removed", "changed", "unchanged"]


class Version(NamedTuple):
    """A published definition version: its text, where it came from and when."""

    rules_version: str
    published_at: int  # microseconds since the epoch
    source: str  # the file name it was published from
    text: str


class Switch(NamedTuple):
    """Partition `partition` of worker group `group` switched to `rules_version` at `at`."""

    group: str
    partition: int
    rules_version: str
    at: int


Record = Version | Switch


def encode(record: Record) -> tuple[bytes, bytes]:
    """The message key and value of `record`."""
    if isinstance(record, Version):
        key = VERSION_PREFIX + record.rules_version
        body: dict[str, Any] = {
            "kind": "version",
            "rules_version": record.rules_version,
            "published_at": format_ts(record.published_at),
            "source": record.source,
            "text": record.text,
        }
    else:
        key = f"{SWITCH_PREFIX}{record.group}:{record.partition}"
        body = {
            "kind": "switched",
            "group": record.group,
            "partition": record.partition,
            "rules_version": record.rules_version,
            "at": format_ts(record.at),
        }
    return key.encode(), orjson.dumps(body)


def decode(value: bytes | None) -> Record | None:
    """The record in a message value; None for a tombstone or anything not a record.

    A version's text is not checked here: whoever applies it loads it first.
    """
    if value is None:
        return None
    try:
        body = orjson.loads(value)
        if body["kind"] == "version":
            return Version(
                str(body["rules_version"]),
                parse_ts(body["published_at"]),
                str(body["source"]),
                _text(body["text"]),
            )
        if body["kind"] == "switched":
            return Switch(
                str(body["group"]), int(body["partition"]), str(body["rules_version"]),
                parse_ts(body["at"]),
            )  # fmt: skip
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
    return None


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("text must be a string")
    return value


def statuses(before: ast.RuleSet | None, after: ast.RuleSet) -> dict[str, Status]:
    """Per segment id of either version: added, removed, changed or unchanged.

    A segment is changed when its own definition differs or when anything it depends on
    (a segment it tests, a score, the lifecycle it tests) does.
    """
    old = {} if before is None else {s.id: s for s in before.segments}
    new = {s.id: s for s in after.segments}
    out: dict[str, Status] = {}
    for segment_id in sorted(old.keys() | new.keys()):
        if segment_id not in new:
            out[segment_id] = "removed"
        elif segment_id not in old:
            out[segment_id] = "added"
        elif before is not None and _closure(before, segment_id) != _closure(after, segment_id):
            out[segment_id] = "changed"
        else:
            out[segment_id] = "unchanged"
    return out


def _closure(rules: ast.RuleSet, segment_id: str) -> tuple[Any, ...]:
    """Everything a segment's membership depends on, comparable between versions."""
    segments = {s.id: s for s in rules.segments}
    scores = {s.id: s for s in rules.scores}
    seen: dict[str, Any] = {}
    pending = [segment_id]
    stage = False
    while pending:
        current = pending.pop()
        if current in seen or current not in segments:
            continue
        segment = segments[current]
        seen[current] = (segment.when, segment.holdout)
        for node in walk(segment.when):
            if isinstance(node, ast.InSegment):
                pending.append(node.segment)
            elif isinstance(node, ast.ScoreTest):
                seen[f"score:{node.score}"] = scores.get(node.score)
            elif isinstance(node, ast.StageTest):
                stage = True
    if stage and rules.lifecycle is not None:
        seen["lifecycle"] = rules.lifecycle
        for rule in rules.lifecycle.rules:
            for node in walk(rule.when):
                if isinstance(node, ast.InSegment) and node.segment not in seen:
                    seen[node.segment] = segments.get(node.segment)
    return tuple(sorted(seen.items(), key=lambda item: item[0]))


def walk(condition: ast.Condition) -> Iterator[ast.Condition]:
    """Every node of `condition`, itself included."""
    yield condition
    if isinstance(condition, ast.All | ast.Any_):
        for item in condition.items:
            yield from walk(item)
    elif isinstance(condition, ast.Not):
        yield from walk(condition.item)


def summary(before: ast.RuleSet | None, after: ast.RuleSet) -> str:
    """What changed, in one line: `first version` or `added a, b; removed c; changed d`."""
    if before is None:
        return "first version"
    found = statuses(before, after)
    parts = [
        f"{status} {', '.join(s for s, st in found.items() if st == status)}"
        for status in ("added", "removed", "changed")
        if status in found.values()
    ]
    if before.lifecycle != after.lifecycle:
        parts.append("lifecycle changed")
    if before.scores != after.scores:
        parts.append("scores changed")
    return "; ".join(parts) or "no segment changed"


def windows(rules: ast.RuleSet, segment_id: str) -> list[int | None]:
    """The windows (microseconds; None for all time) the segment's membership reads."""
    segments = {s.id: s for s in rules.segments}
    scores = {s.id: s for s in rules.scores}
    found: list[int | None] = []
    pending, seen = [segment_id], set()
    while pending:
        current = pending.pop()
        if current in seen or current not in segments:
            continue
        seen.add(current)
        for node in walk(segments[current].when):
            if isinstance(node, ast.Behaviour):
                found.append(node.within)
            elif isinstance(node, ast.ScoreTest) and node.score in scores:
                found.append(scores[node.score].within)
            elif isinstance(node, ast.InSegment):
                pending.append(node.segment)
    return found
