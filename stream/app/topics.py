"""The topics a worker reads and writes: their names, and declaring them once it runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stream.settings import Settings


@dataclass(frozen=True, slots=True)
class TopicNames:
    """Where the worker reads and writes."""

    events: str
    repartition: str
    changes: str
    dead_letters: str
    changelog: str


def repartition_topic(settings: Settings) -> str:
    """The topic re-keyed events go through, owned by the worker group."""
    return f"{settings.app_id}-{settings.events_topic}-repartition"


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
