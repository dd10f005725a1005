"""The input partitions this worker has loaded, each loaded from the store on first use."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from stream.app.ports import PartitionStore
from stream.app.processor import Partition, Policy
from stream.core.evaluation.engine import Engine
from stream.core.timefmt import format_ts

log = logging.getLogger(__name__)


class Partitions:
    """Loaded `Partition`s by number; one that is dropped is loaded again if it returns."""

    def __init__(
        self,
        engine: Engine,
        store: PartitionStore,
        policy: Policy,
        place: Callable[[Partition], None] | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self.policy = policy
        self.place = place  # gives a loaded partition the version its meta names
        self._loaded: dict[int, Partition] = {}

    def get(self, number: int) -> Partition:
        """Partition `number`, loaded (watermark, counters, deadline index) if it is not yet."""
        found = self._loaded.get(number)
        if found is None:
            found = self._loaded[number] = Partition(number, self.engine, self.store, self.policy)
            if self.place is not None:
                self.place(found)
            watermark = found.watermark
            log.info(
                "partition %d loaded: watermark %s, %d pending deadlines, version %s",
                number,
                "none (no event yet)" if watermark is None else format_ts(watermark),
                found.pending_deadlines,
                found.rules_version or found.engine.rules_version,
            )
        return found

    def drop(self, numbers: Iterable[int]) -> None:
        """Forget these partitions (another worker may own them now)."""
        for number in numbers:
            self._loaded.pop(number, None)

    def loaded(self) -> list[tuple[int, Partition]]:
        """Every loaded partition, by number."""
        return sorted(self._loaded.items())
