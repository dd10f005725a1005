"""The topics a worker reads and writes: their names, and declaring them once it runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class TopicNames:
    """Where the worker reads and writes."""

    events: str
    repartition: str
    changes: str
    dead_letters: str
    changelog: str


class OutputTopics:
    """The Faust topics the worker writes, declared (created if missing) on first use."""

    def __init__(self, topics: Sequence[Any]) -> None:
        self._topics = tuple(topics)
        self._declared = False

    async def declare(self) -> None:
        """Create missing output topics with the configured partitions, once."""
        if not self._declared:
            for topic in self._topics:
                await topic.maybe_declare()
            self._declared = True
