"""The deadline queue: one armed deadline per contact, fired in (instant, contact) order."""

from __future__ import annotations

import pytest

from stream.core.evaluation.timers import Timers


class Index:
    """A DeadlineIndex that records what the queue asked of it."""

    def __init__(self) -> None:
        self.keys: set[tuple[int, str]] = set()
        self.removed: list[tuple[int, str]] = []

    def add(self, deadline: int, contact: str) -> None:
        self.keys.add((deadline, contact))

    def remove(self, deadline: int, contact: str) -> None:
        self.keys.discard((deadline, contact))
        self.removed.append((deadline, contact))


def fired(timers: Timers, now: int, then: dict[str, int | None] | None = None) -> list[object]:
    """Fire up to `now`; each contact re-arms at `then[contact]` (None: no further deadline)."""
    out: list[object] = []

    def fire(deadline: int, contact: str) -> bool:
        out.append((deadline, contact))
        timers.arm(contact, (then or {}).pop(contact, None))
        return True

    timers.fire(now, fire)
    return out


@pytest.mark.parametrize(
    ("arms", "now", "expected"),
    [
        ([("b", 5), ("a", 5), ("c", 3)], 10, [(3, "c"), (5, "a"), (5, "b")]),
        ([("a", 5), ("a", 7)], 10, [(7, "a")]),  # re-arming supersedes
        ([("a", 5), ("a", None)], 10, []),  # disarmed
        ([("a", 5), ("a", 7), ("a", 5)], 10, [(5, "a")]),  # back to an earlier one
        ([("a", 5), ("b", 11)], 10, [(5, "a")]),  # not due yet
        ([("a", 10)], 10, [(10, "a")]),  # due at the instant itself
    ],
)
def test_fires_each_contacts_live_deadline_in_order(
    arms: list[tuple[str, int | None]], now: int, expected: list[tuple[int, str]]
) -> None:
    timers = Timers()
    for contact, deadline in arms:
        timers.arm(contact, deadline)
    assert fired(timers, now) == expected


def test_a_deadline_armed_while_firing_fires_in_the_same_call_when_due() -> None:
    timers = Timers()
    timers.arm("a", 2)
    timers.arm("b", 4)
    assert fired(timers, 10, {"a": 6}) == [(2, "a"), (4, "b"), (6, "a")]
    assert len(timers) == 0 and timers.next_at() is None


def test_the_index_follows_arming_and_firing() -> None:
    index = Index()
    timers = Timers(index)
    timers.arm("a", 5)
    timers.arm("b", 9)
    timers.arm("a", 6)
    assert index.keys == {(6, "a"), (9, "b")}
    fired(timers, 6, {"a": 12})
    assert index.keys == {(9, "b"), (12, "a")}
    assert len(timers) == 2


def test_recovered_entries_arm_the_earliest_and_stale_ones_leave_the_index() -> None:
    index = Index()
    index.keys = {(3, "a"), (4, "a"), (8, "b")}
    timers = Timers(index)
    timers.recover(sorted(index.keys))  # the index is read in deadline order
    assert len(timers) == 2 and timers.next_at() == 3
    assert fired(timers, 10) == [(3, "a"), (8, "b")]
    assert index.keys == set()
    assert sorted(index.removed) == [(3, "a"), (4, "a"), (8, "b")]


def test_a_recovered_entry_whose_contact_has_no_state_leaves_the_index() -> None:
    index = Index()
    index.keys = {(3, "gone")}
    timers = Timers(index)
    timers.recover(sorted(index.keys))
    timers.fire(10, lambda deadline, contact: False)
    assert index.removed == [(3, "gone")]


def test_a_live_entry_whose_contact_has_no_state_stays_in_the_index() -> None:
    index = Index()
    timers = Timers(index)
    timers.arm("a", 3)
    timers.fire(10, lambda deadline, contact: False)
    assert index.keys == {(3, "a")} and index.removed == []


def test_compaction_keeps_firing_the_same() -> None:
    index = Index()
    index.keys = {(1, "old")}
    timers = Timers(index)
    timers.recover([(1, "old")])
    for n in range(5000):  # far more superseded entries than live ones
        timers.arm(f"c{n % 3}", 10_000 - n)
    assert len(timers._heap) < 2 * len(timers) + 1025
    assert fired(timers, 10**9) == [(1, "old"), (5001, "c1"), (5002, "c0"), (5003, "c2")]
    assert len(timers) == 0 and index.keys == set()
