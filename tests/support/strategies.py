"""Hypothesis strategies: random rule sets and event streams for the engine-vs-oracle property.

Value domains are kept small so that filters, equality and windows actually hit: every trait
and property draws from a handful of values that differ in just the ways the semantics care
about (1 vs 1.0 vs True vs "1", case, nesting, null). Timestamps sit on a 15-minute grid, the
windows are multiples of it, so events land exactly on deadlines; a few are 1 us off.

Profiles: `HYPOTHESIS_PROFILE=ci` (default, a few hundred examples), `dev` (quick),
`thorough` (long, for a soak run). They are registered here, not in tests/conftest.py.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from stream.core.language.ast import (
    NUMERIC_OPS,
    STAGE_OPS,
    VALUE_OPERATORS,
    Aggregate,
    AggregateKind,
    All,
    Any_,
    Behaviour,
    Condition,
    InSegment,
    Lifecycle,
    LifecycleRule,
    Not,
    Predicate,
    PropertyFilter,
    RuleSet,
    ScoreDef,
    ScoreRule,
    ScoreTest,
    Segment,
    StageTest,
    Trait,
)
from tests.support import DAY, HOUR, MINUTE, pred, us

for _name, _examples in (("ci", 300), ("dev", 60), ("thorough", 5000)):
    settings.register_profile(
        _name,
        max_examples=_examples,
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def profile() -> settings:
    """The settings chosen by HYPOTHESIS_PROFILE (default `ci`)."""
    return settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


T0 = us("2026-11-20T10:00:00Z")
WINDOWS = (HOUR, 2 * HOUR, DAY)
TYPES = ("page_view", "login", "purchase", "email_open")
SEGMENT_IDS = ("alpha", "beta", "delta", "gamma", "mu", "omega", "zeta")
STAGES = ("subscriber", "lead", "mql", "sql", "customer")
SCORE_IDS = ("eng", "fit")

# --- values ------------------------------------------------------------------------------------

# Leaf values each path may hold: operands are drawn mostly from here so conditions hit.
TRAIT_LEAVES: dict[tuple[str, ...], tuple[Any, ...]] = {
    ("plan",): ("free", "pro", "Pro", "PRO", "enterprise", 5, True, ""),
    ("email",): ("a@x.io", "B@X.IO", "someone@y.org"),
    ("n",): (0, 1, 1.0, 2.5, 10, -1, "1", True),
    ("tags",): ("vip", "VIP", "beta", 1, 1.0, True),
    ("company",): ("saas", 7),
    ("company", "industry"): ("saas", "SaaS", "software", "Straße", 3),
    ("company", "size"): (1, 10, 10.0, 50, "50", True),
    ("company", "geo", "country"): ("de", "DE", "us"),
    ("email", "domain"): ("x.io",),  # a step into a string: always missing
    ("tags", "0"): ("vip",),  # a step into a list: always missing
}
PROPERTY_LEAVES: dict[tuple[str, ...], tuple[Any, ...]] = {
    ("path",): ("/pricing", "/PRICING", "/blog", 1),
    # 1e16 and -1e16 cancel: a float sum kept by adding and subtracting loses the 1s beside
    # them, an exact sum (math.fsum) does not
    ("amount",): (1, 2.5, 10, -3, 0, 0.1, 0.2, "10", True, 1e16, -1e16),
    ("v",): (1, 1.0, True, "1", 0, False),  # type-aware equality and distinct
    ("kind",): ("guide", "Guide", "webinar"),
    ("meta", "src"): ("ad", "AD", "email"),
}
# Nested paths twice as likely: they are where merges and missing steps bite.
TRAIT_PATH_WEIGHTS = tuple(sorted(TRAIT_LEAVES)) + tuple(p for p in TRAIT_LEAVES if len(p) > 1)
OTHER_SCALARS: tuple[Any, ...] = ("strasse", "", "1", 0, 1, 1.0, 50, True, False)
AFFIXES = ("s", "S", "pro", "ware", "", "@x.io", "VIP", "/pri", "ing", "E")
PATTERNS = ("^s", "aa", r"\d", "^pro$", "X", "ß", "/pricing$", "i", "^$")

# An object, often partial: a later identify replaces it as a whole, never merges into it.
_INDUSTRY = st.sampled_from([*TRAIT_LEAVES[("company", "industry")], None])
_SIZE = st.sampled_from([*TRAIT_LEAVES[("company", "size")], None])
_GEO = st.one_of(
    st.none(),
    st.fixed_dictionaries({}, optional={"country": st.sampled_from(["de", "DE", "us", None])}),
)
COMPANY_OBJECTS = st.one_of(
    st.fixed_dictionaries({"industry": _INDUSTRY}),
    st.fixed_dictionaries({"size": _SIZE}),
    st.fixed_dictionaries({"geo": _GEO}),
    st.fixed_dictionaries({}, optional={"industry": _INDUSTRY, "size": _SIZE, "geo": _GEO}),
)
TRAIT_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "plan": st.sampled_from([*TRAIT_LEAVES[("plan",)], None]),
    "email": st.sampled_from([*TRAIT_LEAVES[("email",)], None]),
    "n": st.sampled_from([*TRAIT_LEAVES[("n",)], None]),
    "tags": st.one_of(
        st.none(),
        st.just("vip"),
        st.lists(st.sampled_from(TRAIT_LEAVES[("tags",)]), max_size=3),
    ),
    "company": st.one_of(
        st.none(),
        st.sampled_from(TRAIT_LEAVES[("company",)]),
        COMPANY_OBJECTS,
        COMPANY_OBJECTS,
        COMPANY_OBJECTS,
    ),
}
PROPERTY_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "path": st.sampled_from([*PROPERTY_LEAVES[("path",)], "/pricing", None]),
    "amount": st.sampled_from([*PROPERTY_LEAVES[("amount",)], 1e16, -1e16, None]),
    "kind": st.sampled_from([*PROPERTY_LEAVES[("kind",)], "guide"]),
    "v": st.sampled_from([*PROPERTY_LEAVES[("v",)], None]),
    # objects and lists: distinct counts them by type-aware equality too ({"a": 1} is {"a": 1.0})
    "obj": st.sampled_from([{"a": 1}, {"a": 1.0}, {"a": True}, [1], [1.0], [True], ["1"], {}]),
    "meta": st.one_of(
        st.none(),
        st.fixed_dictionaries({}, optional={"src": st.sampled_from(["ad", "AD", "email", None])}),
    ),
}
VALUE_OPS = VALUE_OPERATORS


@st.composite
def value_predicates(draw: st.DrawFn, leaves: tuple[Any, ...]) -> Predicate:
    """Any trait/property operator, its operand mostly from the values the path may hold."""
    op = draw(st.sampled_from(VALUE_OPS))
    ignore_case = draw(st.booleans())
    scalars = st.one_of(st.sampled_from(leaves), st.sampled_from(OTHER_SCALARS))
    ordered = [v for v in leaves + OTHER_SCALARS if isinstance(v, str | int | float)]
    operand: Any
    if op in ("eq", "ne", "contains"):
        operand = draw(scalars)
    elif op in ("in", "not_in"):
        operand = draw(st.lists(scalars, min_size=1, max_size=3))
    elif op in ("gt", "gte", "lt", "lte"):
        operand = draw(st.sampled_from(ordered))
    elif op == "between":
        strings = [v for v in ordered if isinstance(v, str)]
        numbers = [v for v in ordered if not isinstance(v, str | bool)]
        kind = numbers if draw(st.booleans()) else strings
        lo, hi = draw(st.lists(st.sampled_from(kind), min_size=2, max_size=2))
        operand = (lo, hi) if draw(st.integers(0, 4)) == 0 else (min(lo, hi), max(lo, hi))
    elif op == "exists":
        operand = draw(st.booleans())
    elif op in ("starts_with", "ends_with"):
        operand = draw(st.sampled_from(AFFIXES))
    else:
        operand = draw(st.sampled_from(PATTERNS))
    return pred(op, operand, ignore_case)


NUMERIC_OP_WEIGHTS = ("gte", "gte", "gte", "gt", "lt", "lte", "eq", "ne", "between")
assert set(NUMERIC_OP_WEIGHTS) == NUMERIC_OPS


@st.composite
def numeric_predicates(draw: st.DrawFn, values: tuple[Any, ...]) -> Predicate:
    op = draw(st.sampled_from(NUMERIC_OP_WEIGHTS))
    if op == "between":
        lo, hi = sorted(draw(st.lists(st.sampled_from(values), min_size=2, max_size=2)))
        return pred(op, (lo, hi))
    return pred(op, draw(st.sampled_from(values)))


@st.composite
def property_filters(draw: st.DrawFn) -> tuple[PropertyFilter, ...]:
    n = draw(st.sampled_from([0, 0, 0, 1, 1, 2]))
    leaves = st.sampled_from(sorted(PROPERTY_LEAVES))
    paths = draw(st.lists(leaves, min_size=n, max_size=n, unique=True))
    out = []
    for p in paths:
        if draw(st.booleans()):
            out.append(PropertyFilter(p, pred("eq", draw(st.sampled_from(PROPERTY_LEAVES[p])))))
        else:
            out.append(PropertyFilter(p, draw(value_predicates(PROPERTY_LEAVES[p]))))
    return tuple(out)


event_types = st.lists(st.sampled_from(TYPES), min_size=1, max_size=2, unique=True).map(tuple)
windows = st.sampled_from((None, *WINDOWS))


AGGREGATE_WEIGHTS = ("plain",) * 3 + ("count",) * 2 + ("sum", "avg", "min", "max", "distinct")


@st.composite
def behaviours(draw: st.DrawFn, kinds: tuple[str, ...] = AGGREGATE_WEIGHTS) -> Behaviour:
    kind = draw(st.sampled_from(kinds))
    if kind == "plain":  # the commonest real rule: n events of a type in a window
        count = Aggregate("count", pred("gte", draw(st.sampled_from([1, 1, 2, 3]))))
        return Behaviour(draw(event_types), (), draw(st.sampled_from(WINDOWS)), count)
    if kind == "count":
        aggregate = Aggregate("count", draw(numeric_predicates((0, 1, 2, 3))))
    elif kind == "distinct":
        prop = draw(st.sampled_from([*sorted(PROPERTY_LEAVES), ("v",), ("v",), ("obj",)]))
        aggregate = Aggregate("distinct", draw(numeric_predicates((0, 1, 2, 3))), prop)
    else:
        # 0.1, 0.2, 0.3: a float sum that adds and subtracts as events come and go drifts
        amounts = (-3, 0, 0.1, 0.2, 0.3, 1, 2, 2.5, 10, 12.5)
        predicate = draw(numeric_predicates(amounts))
        prop = draw(st.sampled_from([("amount",), ("amount",), ("amount",), ("v",)]))
        aggregate = Aggregate(cast(AggregateKind, kind), predicate, prop)
    return Behaviour(draw(event_types), draw(property_filters()), draw(windows), aggregate)


@st.composite
def score_defs(draw: st.DrawFn, score_id: str) -> ScoreDef:
    rules = draw(
        st.lists(
            st.builds(
                ScoreRule,
                event_types,
                property_filters(),
                st.sampled_from([1, 5, -2, 0.5, 0.1, 0.2, 10]),
            ),
            min_size=1,
            max_size=3,
        )
    )
    if draw(st.booleans()):
        # points that cancel: only an exact sum keeps the small ones beside them
        huge = draw(st.lists(st.sampled_from(TYPES), min_size=2, max_size=2, unique=True))
        rules.insert(0, ScoreRule((huge[0],), (), 1e16))
        rules.insert(draw(st.integers(1, len(rules))), ScoreRule((huge[1],), (), -1e16))
    return ScoreDef(score_id, tuple(rules), draw(windows))


LEAVES = ("trait", "trait", "behaviour", "behaviour", "behaviour")  # weighted leaf kinds
PROFILE_LEAVES = ("trait", "trait", "trait", "trait", "behaviour")
SUM_LEAVES = ("score", "score", "sum", "sum", "behaviour")


@dataclass(frozen=True)
class Scope:
    """What a condition may refer to: earlier segments, scores, and (maybe) the stage."""

    segments: tuple[str, ...]
    scores: tuple[str, ...]
    stages: tuple[str, ...]  # empty when stage tests are not allowed here
    leaves: tuple[str, ...] = LEAVES


@st.composite
def stage_tests(draw: st.DrawFn, stages: tuple[str, ...]) -> StageTest:
    op = draw(st.sampled_from(sorted(STAGE_OPS)))
    if op in ("in", "not_in"):
        names = draw(st.lists(st.sampled_from(stages), min_size=1, max_size=2, unique=True))
        return StageTest(pred(op, names))
    return StageTest(pred(op, draw(st.sampled_from(stages))))


@st.composite
def conditions(draw: st.DrawFn, scope: Scope, depth: int = 0) -> Condition:
    kinds = [k for k in scope.leaves if k != "score" or scope.scores]
    if depth > 0:
        kinds.append("constant")
    if scope.scores:
        kinds.append("score")
    if scope.segments:
        kinds += ["in_segment", "in_segment"]
    if scope.stages:
        kinds += ["stage", "stage"]
    if depth < 2:
        kinds += ["all", "any", "not"]
    kind = draw(st.sampled_from(kinds))
    if kind == "trait":
        path = draw(st.sampled_from(TRAIT_PATH_WEIGHTS))
        return Trait(path, draw(value_predicates(TRAIT_LEAVES[path])))
    if kind == "behaviour":
        return draw(behaviours())
    if kind == "sum":
        return draw(behaviours(("sum", "avg")))
    if kind == "constant":  # empty all: true; empty any: false
        return All(()) if draw(st.booleans()) else Any_(())
    if kind == "score":
        values = (-2, 0, 0.1, 0.2, 0.3, 1, 1.5, 5, 10, 11)
        return ScoreTest(draw(st.sampled_from(scope.scores)), draw(numeric_predicates(values)))
    if kind == "in_segment":
        return InSegment(draw(st.sampled_from(scope.segments)))
    if kind == "stage":
        return draw(stage_tests(scope.stages))
    if kind == "not":
        return Not(draw(conditions(scope, depth + 1)))
    items = tuple(draw(st.lists(conditions(scope, depth + 1), min_size=1, max_size=3)))
    return All(items) if kind == "all" else Any_(items)


@st.composite
def rule_sets(draw: st.DrawFn, leaves: tuple[str, ...] = LEAVES) -> RuleSet:
    """Scores, segments before the lifecycle, the lifecycle, segments after it (may test it).

    Segments only refer to earlier ones, lifecycle rules only to segments before it, and only
    segments after it test the stage: the graph is a DAG by construction.
    """
    n_scores = draw(st.integers(0, len(SCORE_IDS)))
    scores = tuple(draw(score_defs(sid)) for sid in SCORE_IDS[:n_scores])
    ids = list(draw(st.permutations(SEGMENT_IDS)))
    has_lifecycle = draw(st.booleans())
    n_before = draw(st.sampled_from(range(4)))
    n_after = draw(st.sampled_from(range(4))) if has_lifecycle else 0
    if n_before + n_after == 0:  # a file has at least one segment
        n_before = 1

    segments: list[Segment] = []
    holdouts = st.sampled_from([0.0, 0.0, 0.0, 0.3, 0.5, 0.99])

    def add_segments(count: int, stages: tuple[str, ...]) -> None:
        for _ in range(count):
            scope = Scope(
                tuple(s.id for s in segments), tuple(s.id for s in scores), stages, leaves
            )
            sid = ids.pop()
            segments.append(Segment(sid, draw(conditions(scope)), holdout=draw(holdouts)))

    add_segments(n_before, ())
    life = None
    if has_lifecycle:
        chosen = draw(st.sets(st.sampled_from(STAGES), min_size=1))
        stages = tuple(s for s in STAGES if s in chosen)
        scope = Scope(tuple(s.id for s in segments), tuple(s.id for s in scores), (), leaves)
        rules = draw(
            st.lists(
                st.builds(LifecycleRule, st.sampled_from(stages), conditions(scope)),
                min_size=1,
                max_size=4,
            )
        )
        life = Lifecycle(stages, tuple(rules), draw(st.booleans()))
        add_segments(n_after, stages)
    shuffled = tuple(draw(st.permutations(segments)))
    return RuleSet(1, shuffled, scores, life, "prop" + format(draw(st.integers(0, 9)), "08d"))


# --- events ------------------------------------------------------------------------------------

CONTACTS = ("c1", "c2", "c3", "c4")
STEPS = (0, 0, 1, 15 * MINUTE, 30 * MINUTE, HOUR, HOUR, 2 * HOUR, 5 * HOUR, DAY, DAY + HOUR)
LATENESS = (1, 15 * MINUTE, HOUR, HOUR + 1, 2 * HOUR, DAY, 2 * DAY)
AGES = (3 * DAY, 30 * DAY)  # an old event (a backfill, history): older than every horizon
QUIET = (DAY + 1, 3 * DAY)  # a quiet spell: the clock moves past every horizon
RECENTLY = 3  # a prompt retry repeats one of the last few messages sent


@st.composite
def traits(draw: st.DrawFn) -> dict[str, Any]:
    return {name: draw(values) for name, values in TRAIT_VALUES.items() if draw(st.booleans())}


@st.composite
def properties(draw: st.DrawFn) -> dict[str, Any]:
    return {name: draw(values) for name, values in PROPERTY_VALUES.items() if draw(st.booleans())}


@dataclass(frozen=True)
class Stream:
    """An event stream in the oracle's form, with the replay options."""

    events: list[dict[str, Any]]
    offsets: list[int]  # per event: the UTC offset, in minutes, its wire timestamp is written at
    until_us: int | None
    horizon_us: int

    def wire(self) -> list[dict[str, Any]]:
        return [to_wire(e, o) for e, o in zip(self.events, self.offsets, strict=True)]


@st.composite
def streams(
    draw: st.DrawFn,
    max_events: int = 32,
    retries: int = 1,
    max_contacts: int = 4,
    identifies: int = 2,
) -> Stream:
    """Mostly increasing timestamps, some late or old; `retries` and `identifies` are weights.

    A retry repeats an earlier message exactly: one of the last few (soon after, the clock
    has barely moved) or any (often long after, past the horizon), of a new, late or old
    event alike, since the duplicate horizon counts from when the contact applied it.
    """
    how_many = [n for n in (1, 1, 2, 2, 3, 4) if n <= max_contacts]
    contacts = CONTACTS[: draw(st.sampled_from(how_many))]
    # sampled_from draws sizes uniformly; integers() would favour very short streams
    n = draw(st.sampled_from(range(3, max_events + 1)))
    events: list[dict[str, Any]] = []
    offsets: list[int] = []
    latest = T0
    for i in range(n):
        actions = ["new"] * 6 + ["late", "old", "quiet"] + ["identify"] * identifies
        action = draw(st.sampled_from(actions + ["soon", "retry"] * retries))
        offsets.append(draw(st.sampled_from([0, 0, 0, 60, -330])))
        if action in ("soon", "retry") and events:
            sent = events[-RECENTLY:] if action == "soon" else events
            events.append(dict(draw(st.sampled_from(sent))))  # exactly as sent before
            continue
        if action == "late":
            ts = latest - draw(st.sampled_from(LATENESS))
        elif action == "old":
            ts = latest - draw(st.sampled_from(AGES))
        elif action == "quiet":
            ts = latest + draw(st.sampled_from(QUIET))
        else:
            ts = latest + draw(st.sampled_from(STEPS))
        latest = max(latest, ts)
        contact = draw(st.sampled_from(contacts))
        # now and then reuse an id another contact used: not a duplicate for this one
        eid = f"e{i}" if i == 0 or draw(st.integers(0, 9)) else events[0]["event_id"]
        if action == "identify":
            events.append(
                {
                    "event_id": eid,
                    "contact_id": contact,
                    "type": "identify",
                    "timestamp": ts,
                    "properties": {},
                    "traits": draw(traits()),
                }
            )
        else:
            events.append(
                {
                    "event_id": eid,
                    "contact_id": contact,
                    "type": draw(st.sampled_from(TYPES)),
                    "timestamp": ts,
                    "properties": draw(properties()),
                }
            )
    until = draw(st.sampled_from([None, latest, latest + HOUR, latest + DAY, latest + 3 * DAY]))
    horizon = draw(st.sampled_from([24 * HOUR, 3 * HOUR, 2 * HOUR, HOUR]))
    return Stream(events, offsets, until, horizon)


# --- the wire form -----------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def wire_timestamp(ts: int, offset_minutes: int = 0) -> str:
    """RFC 3339 text for `ts`, in UTC with `Z` or at a fixed offset."""
    moment = _EPOCH + timedelta(microseconds=ts)
    if offset_minutes == 0:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    zone = timezone(timedelta(minutes=offset_minutes))
    return moment.astimezone(zone).isoformat(timespec="microseconds")


def to_wire(e: dict[str, Any], offset_minutes: int = 0) -> dict[str, Any]:
    """The event as it comes off the topic: `timestamp` as RFC 3339 text."""
    wire = {k: v for k, v in e.items() if k not in ("timestamp", "properties", "traits")}
    wire["timestamp"] = wire_timestamp(e["timestamp"], offset_minutes)
    if e.get("properties"):
        wire["properties"] = e["properties"]
    if e["type"] == "identify":
        wire["traits"] = e["traits"]
    return wire
