"""Overlap figures summed over partitions: sizes, pair intersections, memberships per contact."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations


@dataclass(frozen=True, slots=True)
class PartitionFigures:
    """What one partition holds: sizes, held-out counts, pair intersections, a histogram.

    A contact lives in exactly one partition, so figures of all partitions simply add up.
    """

    sizes: dict[str, int] = field(default_factory=dict)
    held_out: dict[str, int] = field(default_factory=dict)
    both: dict[tuple[str, str], int] = field(default_factory=dict)  # (a, b) with a < b
    per_contact: dict[int, int] = field(default_factory=dict)  # k -> contacts in k segments
    crowded: tuple[str, ...] = ()  # a few contacts in more than the lint's N segments


@dataclass(frozen=True, slots=True)
class Pair:
    """Two segments' overlap: members of both, and the Jaccard index (0 when both are empty)."""

    a: str
    b: str
    both: int
    jaccard: float


@dataclass(frozen=True, slots=True)
class Figures:
    """The whole namespace's figures for the given segments."""

    segments: tuple[str, ...]
    sizes: dict[str, int]
    held_out: dict[str, int]
    pairs: tuple[Pair, ...]  # every pair of `segments`, in order, zero overlaps included
    per_contact: dict[int, int]
    crowded: tuple[str, ...]

    @property
    def contacts(self) -> int:
        """Contacts in at least one segment."""
        return sum(self.per_contact.values())


def combine(segments: Iterable[str], parts: Iterable[PartitionFigures]) -> Figures:
    """Add up the partitions' figures for `segments` (ids Redis has but they lack are dropped)."""
    ids = tuple(segments)
    sizes: Counter[str] = Counter()
    held: Counter[str] = Counter()
    both: Counter[tuple[str, str]] = Counter()
    per_contact: Counter[int] = Counter()
    crowded: list[str] = []
    for part in parts:
        sizes.update(part.sizes)
        held.update(part.held_out)
        both.update(part.both)
        per_contact.update(part.per_contact)
        crowded.extend(part.crowded)
    pairs = []
    for a, b in combinations(ids, 2):
        common = both[(a, b) if a < b else (b, a)]
        union = sizes[a] + sizes[b] - common
        pairs.append(Pair(a, b, common, common / union if union else 0.0))
    return Figures(
        segments=ids,
        sizes={s: sizes[s] for s in ids},
        held_out={s: held[s] for s in ids},
        pairs=tuple(pairs),
        per_contact=dict(sorted(per_contact.items())),
        crowded=tuple(sorted(crowded)[:5]),
    )
