"""Health figures computed the slow, obvious way from memberships: the tests' reference."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from itertools import combinations
from typing import Any

from stream.core.health.figures import Figures, PartitionFigures, combine
from stream.core.health.history import FLAP_US, History, Series
from stream.core.timefmt import parse_ts


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


def history_brute_force(
    changes: Iterable[dict[str, Any]], segments: Iterable[str], width_us: int, count: int
) -> History:
    """The history a correct materialiser keeps, from change messages in topic order.

    Sizes are counted forwards here (members whose last change before a bucket's end was an
    entry), where the served history derives them backwards from the current size.
    """
    ids = tuple(segments)
    since: dict[tuple[str, str], int] = {}  # (contact, segment) -> entered at
    last_seq: dict[str, int] = {}
    stage: dict[str, str] = {}
    events: list[tuple[int, str, int]] = []  # (at, segment, +1 entered / -1 exited)
    flaps: list[tuple[int, str]] = []
    moves: Counter[tuple[str, str]] = Counter()
    moved_at: list[int] = []  # stage moves have buckets too
    for change in changes:
        contact, seq = change["contact_id"], change["seq"]
        if seq <= last_seq.get(contact, 0):
            continue
        last_seq[contact] = seq
        at = parse_ts(change["at"])
        if change["kind"] == "lifecycle":
            was, now = stage.get(contact, ""), change["to"] or ""
            if was != now:
                moves[(was, now)] += 1
                moved_at.append(at)
                stage[contact] = now
            continue
        key = (contact, change["segment"])
        if change["change"] == "entered":
            if key not in since:
                events.append((at, change["segment"], 1))
            since[key] = at
        elif key in since:
            events.append((at, change["segment"], -1))
            if at - since.pop(key) < FLAP_US:
                flaps.append((at, change["segment"]))
    times = [at for at, _, _ in events] + moved_at
    newest = max(times, default=0) // width_us
    starts = list(range(newest - count + 1, newest + 1)) if times else []
    series = {}
    for segment in ids:
        mine = [(at, d) for at, s, d in events if s == segment]
        size = [sum(d for at, d in mine if at < (t + 1) * width_us) for t in starts]
        entered = [sum(1 for at, d in mine if d > 0 and at // width_us == t) for t in starts]
        exited = [sum(1 for at, d in mine if d < 0 and at // width_us == t) for t in starts]
        flapped = [
            sum(1 for at, s in flaps if s == segment and at // width_us == t) for t in starts
        ]
        series[segment] = Series(tuple(size), tuple(entered), tuple(exited), tuple(flapped))
    return History(
        width_us=width_us,
        starts=tuple(t * width_us for t in starts),
        series=series,
        entered_ever={s: sum(1 for _, x, d in events if x == s and d > 0) for s in ids},
        stages=dict(Counter(v for v in stage.values() if v)),
        moves=dict(sorted(moves.items())),
    )
