"""The deadline queue: each contact's next deadline, fired in (instant, contact id) order."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from typing import Protocol

Fire = Callable[[int, str], bool]

_SLACK = 1024  # superseded heap entries tolerated beyond one per armed contact


class DeadlineIndex(Protocol):
    """A persisted copy of the queue (the worker's deadline keys), kept in step by `Timers`."""

    def add(self, deadline: int, contact: str) -> None: ...

    def remove(self, deadline: int, contact: str) -> None: ...


class Timers:
    """At most one armed deadline per contact, in a heap that re-arming leaves stale entries in.

    A stale entry is skipped when it comes up, and the heap is rebuilt from the live ones when
    they are outnumbered. Entries `recover`ed from an index may be stale too (a crash can keep
    an index key whose contact moved on, or never landed): those leave the index as they pass.
    """

    __slots__ = ("_armed", "_heap", "_index")

    def __init__(self, index: DeadlineIndex | None = None) -> None:
        self._heap: list[tuple[int, str, bool]] = []  # (deadline, contact, recovered)
        self._armed: dict[str, int] = {}  # contact -> its one live deadline
        self._index = index

    def __len__(self) -> int:
        """How many contacts have a deadline armed."""
        return len(self._armed)

    def recover(self, entries: Iterable[tuple[int, str]]) -> None:
        """Arm what an index held, in deadline order: a contact's earliest entry is its live one."""
        armed = self._armed
        for deadline, contact in entries:
            self._heap.append((deadline, contact, True))
            armed.setdefault(contact, deadline)
        heapq.heapify(self._heap)

    def next_at(self) -> int | None:
        """The earliest instant the queue may fire at (perhaps a stale entry's), or None."""
        heap = self._heap
        return heap[0][0] if heap else None

    def arm(self, contact: str, deadline: int | None) -> None:
        """Make `deadline` the contact's one armed deadline; None disarms it."""
        armed = self._armed
        before = armed.get(contact)
        if deadline == before:
            return
        index = self._index
        if before is not None:
            del armed[contact]
            if index is not None:
                index.remove(before, contact)
        if deadline is not None:
            if index is not None:
                index.add(deadline, contact)
            armed[contact] = deadline
            heap = self._heap
            heapq.heappush(heap, (deadline, contact, False))
            if len(heap) > 2 * len(armed) + _SLACK:
                self._heap = [entry for entry in heap if armed.get(entry[1]) == entry[0]]
                heapq.heapify(self._heap)

    def fire(self, now: int, fire: Fire) -> None:
        """Call `fire(deadline, contact)` for every armed deadline up to `now`, in order.

        `fire` re-arms the contact (its next deadline may be due as well, and fires in turn)
        and returns True, or returns False when the contact has no state: its entry was left
        by a batch that crashed half-written, and leaves the index if it came from there.
        """
        armed, index = self._armed, self._index
        while (heap := self._heap) and heap[0][0] <= now:
            deadline, contact, recovered = heapq.heappop(heap)
            if armed.get(contact) == deadline and fire(deadline, contact):
                continue
            if recovered and index is not None:
                index.remove(deadline, contact)
