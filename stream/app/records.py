"""What one partition's processing takes and gives: input records, the policy, the effects."""

from __future__ import annotations

from dataclasses import dataclass, field

from stream.core.changes import Change
from stream.core.limits import DEFAULT_LIMITS, Limits

MAX_STATE_BYTES = 1_000_000  # under the changelog's 1 MiB record, with room for the header


@dataclass(slots=True)
class Record:
    """One input message, as read from Kafka."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None  # None: a tombstone
    timestamp: float = 0.0  # the Kafka record's timestamp, seconds since the epoch


@dataclass(slots=True)
class DeadLetter:
    """An input message rejected with a reason, for the dead-letter topic."""

    record: Record
    reason: str
    detail: str


@dataclass(slots=True)
class Policy:
    """How the worker treats time and doubtful input."""

    clock: str = "wall"  # "wall" or "event"
    # Against the wall clock in both clock modes; None: no bound on future timestamps.
    future_tolerance_us: int | None = None
    max_message_bytes: int | None = None
    rekey_mismatched: bool = False  # False: a wrong key is dead-lettered
    limits: Limits = DEFAULT_LIMITS
    max_state_bytes: int = MAX_STATE_BYTES
    stop_on_processing_error: bool = False  # True: an unexpected error stops the worker


@dataclass(slots=True)
class Effects:
    """What a batch must publish (before its state is written) and then write."""

    changes: list[Change] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    rekeyed: list[tuple[bytes, bytes]] = field(default_factory=list)
    # For the metrics only: (record timestamp, changes it caused) per input that caused any,
    # and how far past its instant each fired deadline was (microseconds).
    caused: list[tuple[float, int]] = field(default_factory=list)
    late_us: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.changes or self.dead_letters or self.rekeyed)
