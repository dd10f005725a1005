"""Which input partitions this worker owns, and whether their table is restored yet."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class Assignment:
    """The worker's share of the input topic, as Faust's assignor and recovery see it."""

    def __init__(self, app: Any, events_topic: str) -> None:
        self.app = app  # faust.App
        self.events_topic = events_topic
        # False from a revocation until Faust has restored the table for the new assignment:
        # a Partition loaded before that would start from an empty store.
        self.restored = False

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
