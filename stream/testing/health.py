"""Health figures computed the slow, obvious way from memberships: the tests' reference."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations

from stream.core.health.figures import Figures, PartitionFigures, combine


def brute_force(memberships: dict[str, dict[str, bool]], segments: Iterable[str]) -> Figures:
    """The same figures from contact -> {segment: held out}: the reference the tests use."""
    part = PartitionFigures()
    for segs in memberships.values():
        if not segs:
            continue
        for s, holdout in segs.items():
            part.sizes[s] = part.sizes.get(s, 0) + 1
            part.held_out[s] = part.held_out.get(s, 0) + int(holdout)
        for a, b in combinations(sorted(segs), 2):
            part.both[(a, b)] = part.both.get((a, b), 0) + 1
        part.per_contact[len(segs)] = part.per_contact.get(len(segs), 0) + 1
    return combine(segments, [part])
