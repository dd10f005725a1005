"""One catalog entry per segment: its documentation, criteria, the data it reads, its references."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from stream.core.catalog.english import describe
from stream.core.language.ast import (
    All,
    Any_,
    Behaviour,
    Condition,
    InSegment,
    Not,
    RuleSet,
    ScoreTest,
    Segment,
    StageTest,
    Trait,
)


@dataclass(frozen=True, slots=True)
class Reads:
    """The data a condition reads: traits, event types, event properties, scores, the stage."""

    traits: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    properties: tuple[str, ...] = ()
    scores: tuple[str, ...] = ()
    stage: bool = False


@dataclass(frozen=True, slots=True)
class Entry:
    """What the catalog says about one segment; `size` is None when Redis was not asked."""

    segment: Segment
    criteria: str
    reads: Reads
    refers_to: tuple[str, ...]
    referred_by: tuple[str, ...]  # segment ids, and `stage:NAME` for lifecycle rules
    size: int | None = None
    held_out: int | None = None


def catalog(ruleset: RuleSet, sizes: dict[str, tuple[int, int]] | None = None) -> list[Entry]:
    """Every segment's entry, in file order; `sizes` gives (members, held out) per segment."""
    referred: dict[str, list[str]] = {s.id: [] for s in ruleset.segments}
    for segment in ruleset.segments:
        for target in references(segment.when):
            referred[target].append(segment.id)
    if ruleset.lifecycle is not None:
        for rule in ruleset.lifecycle.rules:
            for target in references(rule.when):
                referred[target].append(f"stage:{rule.stage}")
    entries = []
    for segment in ruleset.segments:
        size, held = (sizes or {}).get(segment.id, (0, 0)) if sizes is not None else (None, None)
        entries.append(
            Entry(
                segment=segment,
                criteria=describe(segment.when),
                reads=reads(segment.when, ruleset),
                refers_to=tuple(sorted(set(references(segment.when)))),
                referred_by=tuple(dict.fromkeys(referred[segment.id])),
                size=size,
                held_out=held,
            )
        )
    return entries


def references(condition: Condition) -> list[str]:
    """The segment ids `condition` tests directly (`in_segment`), in the order written."""
    return [c.segment for c in _walk(condition) if isinstance(c, InSegment)]


def reads(condition: Condition, ruleset: RuleSet) -> Reads:
    """The data `condition` reads directly, with the events and properties of its scores."""
    traits: list[str] = []
    events: list[str] = []
    properties: list[str] = []
    scores: list[str] = []
    stage = False
    by_id = {score.id: score for score in ruleset.scores}
    for node in _walk(condition):
        match node:
            case Trait(path=path):
                traits.append(".".join(path))
            case Behaviour(types=types, where=where, aggregate=aggregate):
                events.extend(types)
                properties.extend(".".join(f.path) for f in where)
                if aggregate.property is not None:
                    properties.append(".".join(aggregate.property))
            case ScoreTest(score=score):
                scores.append(score)
                for rule in by_id[score].rules if score in by_id else ():
                    events.extend(rule.types)
                    properties.extend(".".join(f.path) for f in rule.where)
            case StageTest():
                stage = True
    return Reads(_sorted(traits), _sorted(events), _sorted(properties), _sorted(scores), stage)


def _sorted(names: list[str]) -> tuple[str, ...]:
    return tuple(sorted(set(names)))


def _walk(condition: Condition) -> Iterator[Condition]:
    yield condition
    match condition:
        case All(items=items) | Any_(items=items):
            for item in items:
                yield from _walk(item)
        case Not(item=item):
            yield from _walk(item)
