"""A deliberately simple reference evaluator: recomputes everything from the full history.

It shares nothing with `stream/core` except the rule AST, keeps every applied event of every
contact, and whenever it evaluates a contact it recomputes every segment, score and the stage
from that history. Slow on purpose; clear on purpose. The semantics are `shared/spec/rules.md`,
`shared/spec/events.md` and `docs/semantics.md`, followed to the letter.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import re2

from stream.core.language.ast import (
    All,
    Any_,
    Behaviour,
    Condition,
    InSegment,
    Not,
    Predicate,
    RuleSet,
    ScoreDef,
    ScoreTest,
    StageTest,
    Trait,
)

DEFAULT_HORIZON_US = 24 * 3600 * 10**6
IDENTIFY = "identify"
STAGE_KEY = ""  # the lifecycle stage's sort key among segment ids

Message = dict[str, Any]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


# --- values ------------------------------------------------------------------------------------


def lookup(obj: Any, path: tuple[str, ...]) -> Any:
    """The value at a dotted path, or MISSING if a step is absent, not an object, or null."""
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return MISSING
        obj = obj[key]
    return MISSING if obj is None else obj


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def same(a: Any, b: Any) -> bool:
    """Type-aware equality: 1 == 1.0, True != 1, "1" != 1, lists and objects member-wise."""
    if is_number(a) or is_number(b):
        return is_number(a) and is_number(b) and a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return set(a) == set(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def fold(value: Any) -> Any:
    """Case-fold strings, also the members of lists and tuples."""
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, list | tuple):
        return type(value)(fold(v) for v in value)
    return value


def ordered(a: Any, b: Any) -> bool:
    """Whether a and b may be compared by gt/gte/lt/lte/between."""
    both_numbers = is_number(a) and is_number(b)
    both_strings = isinstance(a, str) and isinstance(b, str)
    return both_numbers or both_strings


def holds(p: Predicate, value: Any) -> bool:
    """One operator applied to a looked-up value (MISSING when absent)."""
    if p.op == "exists":
        return (value is not MISSING) == bool(p.operand)
    if value is MISSING:
        return False
    if p.op == "matches":
        # RE2, as docs/semantics.md says; straight from the library, not the engine's wrapper.
        options = re2.Options()
        options.case_sensitive = not p.ignore_case
        return isinstance(value, str) and re2.search(p.operand, value, options) is not None
    operand = p.operand
    if p.ignore_case:
        value, operand = fold(value), fold(operand)
    if p.op == "eq":
        return same(value, operand)
    if p.op == "ne":
        return not same(value, operand)
    if p.op == "in":
        return any(same(value, o) for o in operand)
    if p.op == "not_in":
        return not any(same(value, o) for o in operand)
    if p.op == "gt":
        return ordered(value, operand) and value > operand
    if p.op == "gte":
        return ordered(value, operand) and value >= operand
    if p.op == "lt":
        return ordered(value, operand) and value < operand
    if p.op == "lte":
        return ordered(value, operand) and value <= operand
    if p.op == "between":
        lo, hi = operand
        return ordered(value, lo) and ordered(value, hi) and lo <= value <= hi
    if p.op == "contains":
        if isinstance(value, str):
            return isinstance(operand, str) and operand in value
        if isinstance(value, list):
            return any(same(member, operand) for member in value)
        return False
    if p.op == "starts_with":
        return isinstance(value, str) and isinstance(operand, str) and value.startswith(operand)
    if p.op == "ends_with":
        return isinstance(value, str) and isinstance(operand, str) and value.endswith(operand)
    raise ValueError(f"unknown operator {p.op!r}")


# --- time --------------------------------------------------------------------------------------


def format_at(us: int) -> str:
    """RFC 3339 UTC with Z; fractional seconds only when non-zero, 3 digits if they suffice."""
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    micros = us % 1_000_000
    if micros == 0:
        return text + "Z"
    if micros % 1000 == 0:
        return f"{text}.{micros // 1000:03d}Z"
    return f"{text}.{micros:06d}Z"


def in_window(t: int, now: int, within: int | None) -> bool:
    """Whether an event at t counts at `now` in a window (None = all time)."""
    return t <= now and (within is None or now - within < t)


def held_out(segment: str, contact: str, share: float) -> bool:
    digest = hashlib.sha256((segment + "\x00" + contact).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


# --- the rule graph ----------------------------------------------------------------------------


def references(c: Condition) -> set[str]:
    """Node keys a condition refers to: segment ids, and STAGE_KEY for a stage test."""
    if isinstance(c, All | Any_):
        return set().union(*(references(i) for i in c.items))
    if isinstance(c, Not):
        return references(c.item)
    if isinstance(c, InSegment):
        return {c.segment}
    if isinstance(c, StageTest):
        return {STAGE_KEY}
    return set()


def windows(c: Condition) -> set[int]:
    if isinstance(c, All | Any_):
        return set().union(*(windows(i) for i in c.items))
    if isinstance(c, Not):
        return windows(c.item)
    if isinstance(c, Behaviour) and c.within is not None:
        return {c.within}
    return set()


def node_refs(rules: RuleSet) -> dict[str, set[str]]:
    refs = {s.id: references(s.when) for s in rules.segments}
    if rules.lifecycle is not None:
        refs[STAGE_KEY] = set().union(*(references(r.when) for r in rules.lifecycle.rules))
    return refs


def depths(rules: RuleSet) -> dict[str, int]:
    """Depth of each node: 0 with no references, else 1 + the deepest node it refers to."""
    refs = node_refs(rules)
    memo: dict[str, int] = {}

    def depth(key: str) -> int:
        if key not in memo:
            memo[key] = 1 + max((depth(r) for r in refs[key]), default=-1)
        return memo[key]

    return {key: depth(key) for key in refs}


def all_windows(rules: RuleSet) -> set[int]:
    found = {s.within for s in rules.scores if s.within is not None}
    for s in rules.segments:
        found |= windows(s.when)
    if rules.lifecycle is not None:
        for r in rules.lifecycle.rules:
            found |= windows(r.when)
    return found


# --- evaluating one contact at one instant -----------------------------------------------------


@dataclass
class Contact:
    """Everything the oracle knows of one contact: its full history and its last outputs."""

    id: str
    applied: list[dict[str, Any]] = field(default_factory=list)  # every applied event
    applied_at: list[int] = field(default_factory=list)  # the `now` each was applied at
    trait_log: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (t, traits after)
    traits: dict[str, Any] = field(default_factory=dict)
    members: dict[str, bool] = field(default_factory=dict)
    stage: str | None = None
    high_water: str | None = None
    seq: int = 0


class Evaluation:
    """Every segment and the stage of one contact at instant `now`, computed from scratch."""

    def __init__(self, rules: RuleSet, contact: Contact, now: int) -> None:
        self.rules = rules
        self.contact = contact
        self.now = now
        self.behaviour = [e for e in contact.applied if e["type"] != IDENTIFY]
        self.segment_conditions = {s.id: s.when for s in rules.segments}
        self.scores = {s.id: s for s in rules.scores}
        self.memo: dict[str, bool] = {}
        self.stage_memo: list[str | None] = []

    def segment(self, sid: str) -> bool:
        if sid not in self.memo:
            self.memo[sid] = self.condition(self.segment_conditions[sid])
        return self.memo[sid]

    def stage(self) -> str | None:
        """The effective stage: the rules' stage, raised to the high-water mark unless regress."""
        if not self.stage_memo:
            life = self.rules.lifecycle
            assert life is not None
            rank = life.stages.index
            reached = [r.stage for r in life.rules if self.condition(r.when)]
            if not life.allow_regress and self.contact.high_water is not None:
                reached.append(self.contact.high_water)
            self.stage_memo.append(max(reached, key=rank) if reached else None)
        return self.stage_memo[0]

    def condition(self, c: Condition) -> bool:
        if isinstance(c, All):
            return all(self.condition(i) for i in c.items)
        if isinstance(c, Any_):
            return any(self.condition(i) for i in c.items)
        if isinstance(c, Not):
            return not self.condition(c.item)
        if isinstance(c, Trait):
            return holds(c.predicate, lookup(self.contact.traits, c.path))
        if isinstance(c, Behaviour):
            return holds(c.aggregate.predicate, self.aggregate(c))
        if isinstance(c, ScoreTest):
            return holds(c.predicate, self.score(self.scores[c.score]))
        if isinstance(c, InSegment):
            return self.segment(c.segment)
        if isinstance(c, StageTest):
            return self.stage_holds(c.predicate)
        raise TypeError(f"unknown condition {c!r}")

    def aggregate(self, b: Behaviour) -> Any:
        counted = [
            e
            for e in self.behaviour
            if e["type"] in b.types
            and in_window(e["timestamp"], self.now, b.within)
            and all(holds(f.predicate, lookup(e["properties"], f.path)) for f in b.where)
        ]
        agg = b.aggregate
        if agg.kind == "count":
            return len(counted)
        assert agg.property is not None
        values = [lookup(e["properties"], agg.property) for e in counted]
        if agg.kind == "distinct":
            distinct: list[Any] = []
            for v in values:
                if v is not MISSING and not any(same(v, d) for d in distinct):
                    distinct.append(v)
            return len(distinct)
        numbers = [v for v in values if is_number(v)]
        if agg.kind == "sum":
            return math.fsum(numbers)
        if not numbers:
            return MISSING
        if agg.kind == "avg":
            return math.fsum(numbers) / len(numbers)
        if agg.kind == "min":
            return min(numbers)
        if agg.kind == "max":
            return max(numbers)
        raise ValueError(f"unknown aggregate {agg.kind!r}")

    def score(self, s: ScoreDef) -> float:
        points = []
        for e in self.behaviour:
            if not in_window(e["timestamp"], self.now, s.within):
                continue
            for rule in s.rules:
                if e["type"] in rule.types and all(
                    holds(f.predicate, lookup(e["properties"], f.path)) for f in rule.where
                ):
                    points.append(rule.points)
                    break
        return math.fsum(points)

    def stage_holds(self, p: Predicate) -> bool:
        stage = self.stage()
        if stage is None:
            return False
        assert self.rules.lifecycle is not None
        rank = self.rules.lifecycle.stages.index
        mine = rank(stage)
        if p.op == "in":
            return mine in [rank(s) for s in p.operand]
        if p.op == "not_in":
            return mine not in [rank(s) for s in p.operand]
        other = rank(p.operand)
        compare = {
            "eq": mine == other,
            "ne": mine != other,
            "gt": mine > other,
            "gte": mine >= other,
            "lt": mine < other,
            "lte": mine <= other,
        }
        return compare[p.op]


# --- the replay loop ---------------------------------------------------------------------------


class Oracle:
    """Replays events in file order with a global event-time `now`."""

    def __init__(self, rules: RuleSet, horizon_us: int = DEFAULT_HORIZON_US) -> None:
        self.rules = rules
        self.horizon_us = horizon_us
        self.windows = sorted(all_windows(rules))
        self.depth = depths(rules)
        self.now: int | None = None
        self.contacts: dict[str, Contact] = {}
        self.out: dict[str, list[Message]] = {}  # per contact
        self.log: list[Message] = []  # every message, in the order produced
        # Each copy recognised as a duplicate, with `now` when its original was applied.
        self.duplicates: list[tuple[dict[str, Any], int]] = []
        self.reapplied = 0  # events applied again: their id's last application was too long ago

    def applications(self, e: dict[str, Any]) -> list[int]:
        """`now` at every application of the event's id to its contact so far."""
        contact = self.contacts.get(e["contact_id"])
        if contact is None:
            return []
        return [
            applied_at
            for seen, applied_at in zip(contact.applied, contact.applied_at, strict=True)
            if seen["event_id"] == e["event_id"]
        ]

    def receive(self, e: dict[str, Any]) -> None:
        # A duplicate: the contact applied this id less than the horizon before `now`,
        # counted from `now` at that application, whatever either copy's timestamp says.
        before = self.applications(e)
        if before and self.now is not None and self.now - before[-1] < self.horizon_us:
            self.duplicates.append((e, before[-1]))
            return
        if before:
            self.reapplied += 1
        t = e["timestamp"]
        self.advance(t if self.now is None else max(self.now, t))
        assert self.now is not None
        contact = self.contacts.setdefault(e["contact_id"], Contact(e["contact_id"]))
        contact.applied.append(e)
        contact.applied_at.append(self.now)
        if e["type"] == IDENTIFY:
            for name, value in e["traits"].items():
                if value is None:
                    contact.traits.pop(name, None)
                else:
                    contact.traits[name] = value
            contact.trait_log.append((t, dict(contact.traits)))
            self.evaluate(contact, self.now, "profile", e["event_id"])
        else:
            self.evaluate(contact, self.now, "event", e["event_id"])

    def advance(self, new_now: int) -> None:
        """Move `now` forward, evaluating each contact at every instant a window may change."""
        if self.now is not None:
            due = {
                (e["timestamp"] + w, contact.id)
                for contact in self.contacts.values()
                for e in contact.applied
                for w in self.windows
                if self.now < e["timestamp"] + w <= new_now
            }
            for instant, cid in sorted(due):  # all contacts, by (instant, contact id)
                self.evaluate(self.contacts[cid], instant, "time", None)
        if self.now is None or new_now > self.now:
            self.now = new_now

    def evaluate(self, contact: Contact, at: int, reason: str, cause: str | None) -> None:
        ev = Evaluation(self.rules, contact, at)
        changed: list[tuple[int, str, Message]] = []
        for seg in self.rules.segments:
            now_member = ev.segment(seg.id)
            if now_member != contact.members.get(seg.id, False):
                message: Message = {
                    "kind": "segment",
                    "contact_id": contact.id,
                    "segment": seg.id,
                    "change": "entered" if now_member else "exited",
                    "holdout": held_out(seg.id, contact.id, seg.holdout),
                }
                changed.append((self.depth[seg.id], seg.id, message))
            contact.members[seg.id] = now_member
        if self.rules.lifecycle is not None:
            stage = ev.stage()
            if stage != contact.stage:
                message = {
                    "kind": "lifecycle",
                    "contact_id": contact.id,
                    "from": contact.stage,
                    "to": stage,
                }
                changed.append((self.depth[STAGE_KEY], STAGE_KEY, message))
            contact.stage = stage
            rank = self.rules.lifecycle.stages.index
            if stage is not None and (
                contact.high_water is None or rank(stage) > rank(contact.high_water)
            ):
                contact.high_water = stage
        for _, _, message in sorted(changed, key=lambda item: (item[0], item[1])):
            contact.seq += 1
            message.update(
                at=format_at(at),
                reason=reason,
                cause_event_id=cause,
                rules_version=self.rules.version_hash,
                seq=contact.seq,
            )
            self.out.setdefault(contact.id, []).append(message)
            self.log.append(message)


def run_oracle(
    rules: RuleSet,
    events: list[dict[str, Any]],
    until_us: int | None = None,
    horizon_us: int = DEFAULT_HORIZON_US,
) -> Oracle:
    """Replay events in file order, then advance to `until_us` if given."""
    oracle = Oracle(rules, horizon_us)
    for e in events:
        oracle.receive(e)
    if until_us is not None:
        oracle.advance(until_us)
    return oracle


def oracle_changes(
    rules: RuleSet,
    events: list[dict[str, Any]],
    until_us: int | None = None,
    horizon_us: int = DEFAULT_HORIZON_US,
) -> dict[str, list[Message]]:
    """Each contact's change messages, in order, for events replayed in file order."""
    return run_oracle(rules, events, until_us, horizon_us).out


def oracle_log(
    rules: RuleSet,
    events: list[dict[str, Any]],
    until_us: int | None = None,
    horizon_us: int = DEFAULT_HORIZON_US,
) -> list[Message]:
    """Every change message in the order replay produces them (deadlines by instant, contact)."""
    return run_oracle(rules, events, until_us, horizon_us).log
