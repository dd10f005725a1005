"""The parsed, validated form of a definition file: what the loader produces and the compiler reads.

Times are integers in microseconds since the Unix epoch; durations are microseconds too.
A dotted path such as ``company.industry`` is a tuple of keys: ``("company", "industry")``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias

Path: TypeAlias = tuple[str, ...]

# Operators a trait or event-property condition may use, in the order messages list them.
VALUE_OPERATORS = (
    "eq",
    "ne",
    "in",
    "not_in",
    "gt",
    "gte",
    "lt",
    "lte",
    "between",
    "exists",
    "contains",
    "starts_with",
    "ends_with",
    "matches",
)
# Operators an aggregate or a score condition may use (numeric comparisons).
NUMERIC_OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "between")
# Operators a stage condition may use; operands are stage names.
STAGE_OPERATORS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte")
VALUE_OPS = frozenset(VALUE_OPERATORS)
NUMERIC_OPS = frozenset(NUMERIC_OPERATORS)
STAGE_OPS = frozenset(STAGE_OPERATORS)
AGGREGATES = ("count", "sum", "avg", "min", "max", "distinct")

AggregateKind: TypeAlias = Literal["count", "sum", "avg", "min", "max", "distinct"]


class Pattern(Protocol):
    """A compiled `matches` pattern (RE2, `values.compile_pattern`); searches UTF-8 bytes."""

    def search(self, text: bytes, /) -> object: ...


@dataclass(frozen=True, slots=True)
class Predicate:
    """One operator applied to a value.

    `operand` is: a scalar for eq/ne/gt/gte/lt/lte/contains/starts_with/ends_with; a tuple for
    in/not_in; a 2-tuple (lo, hi) for between; a bool for exists; the pattern text for matches
    (compiled once into `pattern`, case-insensitive when `ignore_case`).
    """

    op: str
    operand: Any
    ignore_case: bool = False
    pattern: Pattern | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class PropertyFilter:
    """`where` entry of a behaviour condition or score rule: the event property at `path`."""

    path: Path
    predicate: Predicate


@dataclass(frozen=True, slots=True)
class Aggregate:
    """The aggregate test of a behaviour condition, e.g. ``count: {gte: 3}``.

    `property` is None for count and set for sum/avg/min/max/distinct.
    """

    kind: AggregateKind
    predicate: Predicate
    property: Path | None = None


@dataclass(frozen=True, slots=True)
class All:
    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Any_:
    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Condition


@dataclass(frozen=True, slots=True)
class Trait:
    path: Path
    predicate: Predicate


@dataclass(frozen=True, slots=True)
class Behaviour:
    """Events the contact did: `types` (one or more), property filters, window, aggregate.

    `within` is None for all time.
    """

    types: tuple[str, ...]
    where: tuple[PropertyFilter, ...]
    within: int | None
    aggregate: Aggregate


@dataclass(frozen=True, slots=True)
class ScoreTest:
    score: str
    predicate: Predicate


@dataclass(frozen=True, slots=True)
class InSegment:
    segment: str


@dataclass(frozen=True, slots=True)
class StageTest:
    """A test of the lifecycle stage; operands are stage names (a tuple for in/not_in)."""

    predicate: Predicate


Condition: TypeAlias = All | Any_ | Not | Trait | Behaviour | ScoreTest | InSegment | StageTest


@dataclass(frozen=True, slots=True)
class ScoreRule:
    """Points for an event of one of `types` whose properties pass `where`."""

    types: tuple[str, ...]
    where: tuple[PropertyFilter, ...]
    points: int | float


@dataclass(frozen=True, slots=True)
class ScoreDef:
    id: str
    rules: tuple[ScoreRule, ...]
    within: int | None = None


@dataclass(frozen=True, slots=True)
class Goal:
    """What a segment's members should reach within `within` of entering: a lifecycle stage
    (that stage or a later one) or another segment. Holdout lift is measured against it."""

    kind: Literal["stage", "segment"]
    target: str
    within: int


@dataclass(frozen=True, slots=True)
class Segment:
    id: str
    when: Condition
    name: str | None = None
    description: str | None = None
    persona: str | None = None
    owner: str | None = None
    tags: tuple[str, ...] = ()
    holdout: float = 0.0
    goal: Goal | None = None


@dataclass(frozen=True, slots=True)
class LifecycleRule:
    stage: str
    when: Condition


@dataclass(frozen=True, slots=True)
class Lifecycle:
    stages: tuple[str, ...]
    rules: tuple[LifecycleRule, ...]
    allow_regress: bool = False


@dataclass(frozen=True, slots=True)
class RuleSet:
    """A whole definition file. `version_hash` identifies it in change messages."""

    version: int
    segments: tuple[Segment, ...]
    scores: tuple[ScoreDef, ...] = ()
    lifecycle: Lifecycle | None = None
    version_hash: str = ""
