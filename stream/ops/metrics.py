"""Metric names, each with a one-line meaning, and the process-wide counters behind them."""

from __future__ import annotations

from collections import Counter

# --- per input partition, persisted with the partition's state (exact across restarts) ---
APPLIED = "applied"  # input events applied to a contact's state
DUPLICATE = "duplicate"  # input events recognised as a repeat of an applied event id
DEAD_LETTERED = "dead_lettered"  # input messages sent to the dead-letter topic with a reason
REKEYED = "rekeyed"  # input messages re-sent to the repartition topic under their contact id

# --- per worker process, since it started ---
EVENTS_IN = "events_in"  # input messages taken from Kafka (all outcomes)
CHANGES_OUT = "changes_out"  # change messages published to segment-changes
DEAD_LETTERS_OUT = "dead_letters_out"  # envelopes published to the dead-letter topic

_counters: Counter[str] = Counter()


def add(name: str, amount: int = 1) -> None:
    """Count `amount` more of metric `name` in this process."""
    _counters[name] += amount


def snapshot() -> dict[str, int]:
    """Every process counter's current value."""
    return dict(_counters)
