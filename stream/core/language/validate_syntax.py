"""Definition-file text to plain JSON-like data: YAML (1.2 core scalars) or JSON, checked strictly.

PyYAML implements YAML 1.1, where `no` is false (the "Norway problem": `in: [se, no, dk]`),
`010` is 8, `1:30` is 90 and `2026-01-01` is a date. A rule author means none of that, so
scalars resolve as in YAML 1.2's core schema: only true/false are booleans, numbers are
decimal (or 0o/0x), and everything else is a string. Keys repeated in one mapping are an
error in YAML and JSON alike, instead of the last one silently winning.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from typing import Any, Literal

import yaml
from yaml.nodes import MappingNode, ScalarNode

from stream.core.language.validate_context import join
from stream.errors import Problem

Syntax = Literal["json", "yaml"]

MAX_DEPTH = 100
# Aliases can make a small YAML text expand exponentially ("billion laughs").
MAX_NODES = 1_000_000

_MERGE_TAG = "tag:yaml.org,2002:merge"
_DROPPED_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("bool", "int", "float", "timestamp", "value")
)


class MappingWithDuplicates(dict[Any, Any]):
    """A mapping as parsed, remembering keys that appeared more than once."""

    duplicate_keys: tuple[str, ...] = ()


# libyaml parses far faster (docs/engine.md) and caps nesting depth itself; constructing
# stays in Python.
_Base = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


class _Loader(_Base):  # type: ignore[valid-type,misc]
    """SafeLoader with YAML 1.2 core-schema scalars and duplicate-key detection."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _DROPPED_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$"
    ),
    list("-+0123456789."),
)


def _construct_int(loader: _Loader, node: ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    try:
        if text.startswith(("0o", "0x")):
            return int(text[2:], 8 if text[1] == "o" else 16)
        return int(text, 10)
    except ValueError as exc:  # e.g. more digits than int() accepts
        raise yaml.constructor.ConstructorError(None, None, str(exc), node.start_mark) from exc


def _construct_float(loader: _Loader, node: ScalarNode) -> float:
    text = str(loader.construct_scalar(node)).lower()
    if text.endswith(".inf"):
        return -math.inf if text.startswith("-") else math.inf
    return math.nan if text == ".nan" else float(text)


def _repeated(keys: Iterable[object]) -> tuple[str, ...]:
    seen: set[object] = set()
    repeated = []
    for key in keys:
        if key in seen:
            repeated.append(str(key))
        seen.add(key)
    return tuple(repeated)


def _construct_map(loader: _Loader, node: MappingNode) -> Iterator[MappingWithDuplicates]:
    data = MappingWithDuplicates()
    yield data
    # Before construct_mapping splices `<<` merged keys in: those may be overridden; only keys
    # written in this mapping twice are an error.
    repeated = _repeated(
        loader.construct_object(key)
        for key, _ in node.value
        if isinstance(key, ScalarNode) and key.tag != _MERGE_TAG
    )
    data.update(loader.construct_mapping(node))
    data.duplicate_keys = repeated


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)


def _json_object(pairs: list[tuple[str, Any]]) -> MappingWithDuplicates:
    data = MappingWithDuplicates(pairs)
    if len(data) < len(pairs):
        data.duplicate_keys = _repeated(key for key, _ in pairs)
    return data


def _parse_yaml(text: str) -> object:
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _parse_json(text: str) -> object:
    return json.loads(text, object_pairs_hook=_json_object, parse_constant=float)


def _yaml_problem(exc: yaml.YAMLError, text: str) -> Problem:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        what = exc.problem or "invalid"
        lines = text.splitlines()
        line = lines[mark.line] if mark.line < len(lines) else ""
        if "\t" in line[: len(line) - len(line.lstrip())]:
            what += " (indent with spaces, not tabs)"
        where = f"line {mark.line + 1}, column {mark.column + 1}"
        return Problem("", f"{where}: not valid YAML: {what}")
    return Problem("", f"not valid YAML: {exc}")


def _json_problem(exc: ValueError) -> Problem:
    if isinstance(exc, json.JSONDecodeError):
        return Problem("", f"line {exc.lineno}, column {exc.colno}: not valid JSON: {exc.msg}")
    return Problem("", f"not valid JSON: {exc}")


def parse_text(text: str, syntax: Syntax | None = None) -> tuple[object, list[Problem]]:
    """Parse definition text as `syntax`, or guess it (JSON when it starts with `{`).

    Returns the data and the problems; data is None when there are problems.
    """
    guessed = syntax is None
    syntax = syntax or ("json" if text.lstrip().startswith("{") else "yaml")
    data, failure = _parse(text, syntax)
    if failure is not None and guessed and syntax == "json":
        # perhaps a YAML flow mapping such as `{version: 1, segments: [...]}`
        yaml_data, yaml_failure = _parse(text, "yaml")
        if yaml_failure is None:
            data, failure = yaml_data, None
    if failure is not None:
        return None, [failure]
    if data is None:
        return None, [Problem("", "the file is empty: start it with `version: 1`")]
    problems = check_plain(data)
    return (None, problems) if problems else (data, [])


def _parse(text: str, syntax: Syntax) -> tuple[object, Problem | None]:
    try:
        return (_parse_json(text) if syntax == "json" else _parse_yaml(text)), None
    except RecursionError:
        return None, Problem("", f"nested more than {MAX_DEPTH} levels deep")
    except yaml.YAMLError as exc:
        return None, _yaml_problem(exc, text)
    except ValueError as exc:
        return None, _json_problem(exc)


def check_plain(data: object) -> list[Problem]:
    """Problems that stop `data` from being a JSON document: odd types, keys, NaN, depth, size."""
    problems: list[Problem] = []
    visits = 0
    too_deep = False

    def walk(node: object, path: str, depth: int) -> None:
        nonlocal visits, too_deep
        visits += 1
        if depth > MAX_DEPTH:
            too_deep = True
        if visits > MAX_NODES or too_deep:
            return
        if isinstance(node, dict):
            for key in getattr(node, "duplicate_keys", ()):
                problems.append(Problem(path, f"key {key!r} appears more than once"))
            for key, value in node.items():
                if not isinstance(key, str):
                    problems.append(Problem(path, f"key {key!r} is not text: quote it"))
                    continue
                walk(value, join(path, key), depth + 1)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, join(path, index), depth + 1)
        elif isinstance(node, float) and not math.isfinite(node):
            problems.append(Problem(path, f"{node} is not a finite number"))
        elif node is not None and not isinstance(node, (str, int, float, bool)):
            kind = type(node).__name__
            problems.append(Problem(path, f"a {kind} value is not allowed: quote it as text"))

    walk(data, "", 0)
    if too_deep:
        return [Problem("", f"nested more than {MAX_DEPTH} levels deep (or refers to itself)")]
    if visits > MAX_NODES:
        return [Problem("", f"more than {MAX_NODES} values once YAML aliases are expanded")]
    return problems
