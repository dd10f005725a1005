"""Which input partitions this worker owns, whether their table is restored, and readiness."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Readiness:
    """Whether the worker serves its whole assignment, and if not, why (`/readyz`)."""

    ready: bool
    reason: str  # ready, starting, recovering, rebalancing or loading
    detail: str
    partitions: list[int] = field(default_factory=list)  # the input partitions it owns

    def to_json(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "reason": self.reason,
            "detail": self.detail,
            "partitions": self.partitions,
        }


class Assignment:
    """The worker's share of the input topic, as Faust's assignor and recovery see it."""

    def __init__(self, app: Any, events_topic: str) -> None:
        self.app = app  # faust.App
        self.events_topic = events_topic
        # False from a revocation until Faust has restored the table for the new assignment:
        # a Partition loaded before that would start from an empty store.
        self.restored = False
        self.rebalances = 0  # revocations so far: each rebalance starts with one
        self.assignments = 0  # assignments whose table was restored

    def revoked(self) -> None:
        """A rebalance began: the table is not to be trusted until it is restored again."""
        self.restored = False
        self.rebalances += 1

    def mark_restored(self) -> None:
        """Faust restored the table for the new assignment."""
        self.restored = True
        self.assignments += 1

    def settled(self) -> bool:
        """Whether the table is restored and no rebalance or recovery is under way."""
        app = self.app
        return self.restored and not app.rebalancing and not app.in_recovery

    def owned(self) -> list[int]:
        """The input partitions assigned to this worker, in order."""
        return sorted(self.inputs(self.app.assignor.assigned_actives()))

    def inputs(self, tps: Iterable[Any]) -> list[int]:
        """The input partitions among topic partitions `tps`."""
        return [tp.partition for tp in tps if tp.topic == self.events_topic]

    def readiness(self, loaded: Collection[int], remaining: int) -> Readiness:
        """Ready only when every owned partition is restored and its deadlines are loaded.

        `loaded` are the partitions whose deadline index is in memory; `remaining` the
        changelog records left to restore. Faust's own `/` says OK during recovery: this
        does not.
        """
        app = self.app
        if app.in_recovery:
            detail = f"restoring the table from its changelog: {remaining} records left"
            return Readiness(False, "recovering", detail)
        if not self.restored:
            if self.assignments == 0:
                return Readiness(False, "starting", "waiting for the first assignment")
            return Readiness(False, "rebalancing", "waiting for the new assignment")
        if app.rebalancing:
            return Readiness(False, "rebalancing", "the group is rebalancing")
        owned = self.owned()
        missing = [n for n in owned if n not in loaded]
        if missing:
            detail = f"loading the deadline index of partitions {missing}"
            return Readiness(False, "loading", detail, owned)
        return Readiness(True, "ready", f"{len(owned)} partitions assigned", owned)
