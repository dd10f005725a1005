"""Per-contact deadlines of the time leaves: when each windowed condition next flips by time.

The engine keeps, per time leaf, its value when its deadline was set (`truths`) and the
deadline itself (`deadlines`, None: never); `next_at` is their minimum.
"""

from __future__ import annotations

from collections.abc import Iterable

from stream.core.evaluation.compile import Plan
from stream.core.evaluation.state import ContactState
from stream.core.evaluation.windows import SumWindow


def recompute_all(plan: Plan, state: ContactState) -> None:
    """Compute every deadline from scratch (state just decoded, nothing known yet)."""
    count = len(plan.time_leaves)
    state.deadlines = [None] * count
    state.truths = [False] * count
    recompute(plan, state, range(count))


def refresh(plan: Plan, state: ContactState, feeds: tuple[int, ...]) -> tuple[int, ...]:
    """After an event fed `feeds`: recompute the deadlines that may have come sooner, and
    return the fed feeds whose value may read differently now.

    Until its deadline a time leaf keeps the value in `truths`, so a windowed feed none of
    whose leaves changed value changes nothing its readers see; all-time feeds are always
    returned. A monotone leaf (see compile.TimeLeaf) whose value did not change, over a
    feed with no negative values, keeps its deadline: the new entry only adds to every later
    window, so the deadline it had is still no later than its next flip (at worst a
    checkpoint).
    """
    deadlines, truths, data = state.deadlines, state.truths, state.feeds
    now = state.now
    assert deadlines is not None and now is not None
    leaves, specs, by_feed = plan.time_leaves, plan.feeds, plan.leaves_by_feed
    moved = False
    changed = []
    for f in feeds:
        on_feed = by_feed.get(f)
        if on_feed is None:
            changed.append(f)
            continue
        spec, entries = specs[f], data[f]
        flipped = False
        for i in on_feed:
            leaf = leaves[i]
            holds = leaf.test(spec.value(entries, now))
            if holds != truths[i]:
                flipped = True
            elif leaf.monotone and not (type(entries) is SumWindow and entries.negatives):
                continue
            deadlines[i] = spec.next_change(entries, now, leaf.test, holds)
            truths[i] = holds
            moved = True
        if flipped:
            changed.append(f)
    if moved:
        state.next_at = earliest(deadlines)
    return tuple(changed)


def recompute(plan: Plan, state: ContactState, targets: Iterable[int]) -> None:
    """Recompute the deadlines and values of the leaves `targets` at `state.now`."""
    deadlines, truths, data = state.deadlines, state.truths, state.feeds
    now = state.now
    assert deadlines is not None and now is not None
    leaves, specs = plan.time_leaves, plan.feeds
    for i in targets:
        leaf = leaves[i]
        spec, entries = specs[leaf.feed], data[leaf.feed]
        holds = leaf.test(spec.value(entries, now))
        deadlines[i] = spec.next_change(entries, now, leaf.test, holds)
        truths[i] = holds
    state.next_at = earliest(deadlines)


def due_leaves(state: ContactState, instant: int) -> list[int]:
    """The time leaves whose deadline is at or before `instant`."""
    assert state.deadlines is not None
    return [i for i, due in enumerate(state.deadlines) if due is not None and due <= instant]


def flipped_at(plan: Plan, state: ContactState, due: list[int], instant: int) -> list[int]:
    """The `due` leaves whose value at `instant` differs from the instant before.

    A deadline may be a checkpoint rather than a flip (see windows.SCAN_LIMIT). Reading a
    windowed value drops what has left the window, so every "before" is read first.
    """
    leaves, specs, data = plan.time_leaves, plan.feeds, state.feeds
    before = [
        leaves[i].test(specs[leaves[i].feed].value(data[leaves[i].feed], instant - 1)) for i in due
    ]
    return [
        i
        for i, was in zip(due, before, strict=True)
        if leaves[i].test(specs[leaves[i].feed].value(data[leaves[i].feed], instant)) != was
    ]


def earliest(deadlines: list[int | None]) -> int | None:
    pending = [d for d in deadlines if d is not None]
    return min(pending) if pending else None
