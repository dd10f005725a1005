"""What the definition-file checkers share: the problem collector, paths, and value wording."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeGuard

from stream.errors import Problem

# Same patterns as schemas/definitions.schema.json (a test keeps them equal), matched in full:
# a trailing newline is not allowed, as in the ECMA-262 regexes JSON Schema specifies.
NAME_PATTERN = "^[a-z0-9_]{1,64}$"
PATH_PATTERN = r"^[^.]+(\.[^.]+)*$"
_NAME = re.compile(NAME_PATTERN[1:-1])
_PATH = re.compile(PATH_PATTERN[1:-1])

NAME_RULE = "use 1-64 lowercase letters, digits and underscores"
LIFECYCLE = -1  # the owner of a reference made by a lifecycle rule

RefKind = Literal["segment", "score", "stage", "rule_stage", "goal_stage", "goal_segment"]


@dataclass(frozen=True, slots=True)
class Ref:
    """A name used somewhere, to resolve once the whole file is read.

    `owner` is the index of the segment whose condition uses it, or LIFECYCLE.
    """

    kind: RefKind
    name: str
    path: str
    owner: int


@dataclass(slots=True)
class Context:
    """Problems found so far, and the names defined and used, for the meaning checks.

    Structural problems are the ones the JSON Schema also finds; meaning problems are the
    ones it cannot express (references, cycles, duplicates, regexes, duration sizes).
    """

    structural: list[Problem] = field(default_factory=list)
    meaning: list[Problem] = field(default_factory=list)
    refs: list[Ref] = field(default_factory=list)
    owner: int = LIFECYCLE
    # id -> index of each definition, in file order (repeats included); None: unreadable list
    segment_ids: list[tuple[str, int]] | None = field(default_factory=list)
    score_ids: list[tuple[str, int]] | None = field(default_factory=list)
    # None: no lifecycle section; "broken": one that cannot be read
    stages: list[str] | Literal["broken"] | None = None

    def structure(self, path: str, message: str) -> None:
        self.structural.append(Problem(path, message))

    def meaning_problem(self, path: str, message: str) -> None:
        self.meaning.append(Problem(path, message))

    def use(self, kind: RefKind, name: str, path: str) -> None:
        self.refs.append(Ref(kind, name, path, self.owner))

    @property
    def problems(self) -> list[Problem]:
        """Every problem: structure first (fix those first), then meaning."""
        return self.structural + self.meaning


def join(path: str, key: str | int) -> str:
    """The path of `key` inside `path`: ``segments[3].when``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def describe(value: object) -> str:
    """A short rendering of a value for messages: 'fifty', 50, true, null, [1, 2]."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, Mapping)):
        text = json.dumps(value, ensure_ascii=False, default=str)
        return text if len(text) <= 40 else text[:36] + " ..." + text[-1]
    return type(value).__name__


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'within'?)`` for a near miss, else the empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def is_name(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and _NAME.fullmatch(value) is not None


def is_path(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and _PATH.fullmatch(value) is not None


def is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_scalar(value: object) -> TypeGuard[str | int | float]:
    return isinstance(value, (str, int, float))  # bool is an int


def check_keys(
    node: Mapping[str, object],
    path: str,
    ctx: Context,
    allowed: Iterable[str],
    required: Iterable[str] = (),
    what: str = "key",
) -> bool:
    """Report keys of `node` that are not allowed and required keys that are absent."""
    allowed = tuple(allowed)
    ok = True
    for key in node:
        if key not in allowed:
            ctx.structure(path, f"unknown {what} {key!r}{did_you_mean(key, allowed)}")
            ok = False
    for key in required:
        if key not in node:
            ctx.structure(path, f"missing required key {key!r}")
            ok = False
    return ok


def check_name(value: object, path: str, ctx: Context, what: str) -> str | None:
    """`value` when it is a valid id or stage name; otherwise report it at `path`."""
    if is_name(value):
        return value
    if isinstance(value, str):
        ctx.structure(path, f"invalid {what} {describe(value)}: {NAME_RULE}")
    else:
        ctx.structure(path, f"{what} needs text such as mql, got {describe(value)}")
    return None


def check_path(value: object, path: str, ctx: Context, what: str) -> tuple[str, ...] | None:
    """`value` split on dots when it is a dotted path; otherwise report it at `path`."""
    if is_path(value):
        return tuple(value.split("."))
    if isinstance(value, str):
        ctx.structure(
            path, f"invalid {what} {describe(value)}: write names joined by single dots, e.g. a.b"
        )
    else:
        ctx.structure(path, f"{what} needs a name or dotted path, got {describe(value)}")
    return None


def check_text(value: object, path: str, ctx: Context, what: str) -> str | None:
    if isinstance(value, str):
        return value
    ctx.structure(path, f"{what} needs text, got {describe(value)}: quote it")
    return None
