"""The worker's seams as Protocols: the clock, the partition store, the change sink, metrics.

Each has a real implementation and one that lives in memory, side by side:

| port | real | in memory |
| --- | --- | --- |
| `Clock` | `stream.app.clock.wall_us` | `stream.testing.fakes.FixedClock` |
| `PartitionStore` | `stream.app.store.table_store` (RocksDB) | `stream.testing.fakes.MemoryStore` |
| `ChangeSink` | `stream.app.sink.KafkaSink` | `stream.testing.fakes.RecordingSink` |
| `Metrics` | `stream.ops.metrics.Counters` (in memory, served on `/metrics`) | the same |

tests/unit/test_store_contract.py and tests/integration/test_sink_contract.py run the same
cases against both sides.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol, TypeAlias

from stream.ops.metrics import CounterName, HistogramName, ProcessMetric

if TYPE_CHECKING:
    # Only for the annotation: the processor itself depends on `PartitionStore` here.
    from stream.app.processor import Effects

Writes = Sequence[tuple[bytes, bytes | None]]  # (key, value), value None to delete
# An input partition, what its records and deadlines caused, and its table writes.
PartitionBatch: TypeAlias = "tuple[int, Effects, Writes]"


class Clock(Protocol):
    """The wall clock, read only with `--clock wall` and for wall-clock stamps."""

    def __call__(self) -> int:
        """Microseconds since the Unix epoch."""
        ...


class PartitionStore(Protocol):
    """The local copy of the table, addressed by partition.

    Keys never repeat across partitions (each embeds its partition or is a contact id, which
    has one), so an implementation may keep every partition in one map.
    """

    def get(self, partition: int, key: bytes) -> bytes | None:
        """The value of `key`, or None when it is not set."""
        ...

    def write(self, partition: int, writes: Writes) -> None:
        """Set each key in order, or delete it when its value is None."""
        ...

    def scan(self, partition: int, prefix: bytes) -> Iterator[bytes]:
        """The partition's keys starting with `prefix`, in byte order."""
        ...


class ChangeSink(Protocol):
    """Where the effects of applied batches become durable."""

    async def commit(self, batches: Sequence[PartitionBatch]) -> None:
        """Publish every batch's outputs and wait until they are acknowledged, then apply its
        writes to the store. Raises if any of it fails; the writes are then not applied."""
        ...


class Metrics(Protocol):
    """Metrics of the worker process: the status file's counters and Prometheus's."""

    def add(self, name: ProcessMetric, amount: int = 1) -> None:
        """Count `amount` more of `name`."""
        ...

    def snapshot(self) -> dict[str, int]:
        """Every counter's current value."""
        ...

    def count(self, name: CounterName, amount: float = 1, **labels: str) -> None:
        """Add `amount` to Prometheus counter `name` with `labels`."""
        ...

    def observe(self, name: HistogramName, value: float, **labels: str) -> None:
        """Observe `value` in Prometheus histogram `name` with `labels`."""
        ...
