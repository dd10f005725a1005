"""Metric names, typed so that a misspelt one is a type error, and the counters behind them."""

from __future__ import annotations

from collections import Counter
from typing import Literal, get_args

# Per input partition, persisted with the partition's state (exact across restarts).
PartitionCount = Literal[
    # input events applied to a contact's state
    "applied",
    # input events recognised as a repeat of an applied event id
    "duplicate",
    # input messages sent to the dead-letter topic with a reason
    "dead_lettered",
    # input messages re-sent to the repartition topic under their contact id
    "rekeyed",
]

# Per worker process, since it started.
ProcessMetric = Literal[
    # input messages taken from Kafka (all outcomes)
    "events_in",
    # change messages published to segment-changes
    "changes_out",
    # envelopes published to the dead-letter topic
    "dead_letters_out",
]

PARTITION_COUNTS: tuple[PartitionCount, ...] = get_args(PartitionCount)
PROCESS_METRICS: tuple[ProcessMetric, ...] = get_args(ProcessMetric)


class Counters:
    """The process counters: the in-memory `Metrics` the worker reports in its status file."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def add(self, name: ProcessMetric, amount: int = 1) -> None:
        """Count `amount` more of metric `name`."""
        self._counts[name] += amount

    def snapshot(self) -> dict[str, int]:
        """Every counter's current value (a counter never added to is absent)."""
        return dict(self._counts)
