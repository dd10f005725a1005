"""Partition-explicit access to the worker's table: local reads and writes, ordered scans.

Faust's table API picks the partition from the event being processed. A batch mixes
partitions and timers run with no event at all, so the worker addresses the local store
per partition itself and sends the changelog records itself (`stream.app.sink`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import rocksdict

Writes = Sequence[tuple[bytes, bytes | None]]  # (key, value), value None to delete


class PartitionStore(Protocol):
    """The local copy of the table, addressed by partition."""

    def get(self, partition: int, key: bytes) -> bytes | None: ...

    def write(self, partition: int, writes: Writes) -> None:
        """Set each key in order, or delete it when its value is None."""

    def scan(self, partition: int, prefix: bytes) -> Iterator[bytes]:
        """Keys starting with `prefix`, in byte order."""


class MemoryStore:
    """A plain dict per partition; for tests of the processor without Kafka."""

    def __init__(self) -> None:
        self.data: dict[int, dict[bytes, bytes]] = {}

    def get(self, partition: int, key: bytes) -> bytes | None:
        return self.data.get(partition, {}).get(key)

    def write(self, partition: int, writes: Writes) -> None:
        part = self.data.setdefault(partition, {})
        for key, value in writes:
            if value is None:
                part.pop(key, None)
            else:
                part[key] = value

    def scan(self, partition: int, prefix: bytes) -> Iterator[bytes]:
        return iter(sorted(k for k in self.data.get(partition, {}) if k.startswith(prefix)))


class FaustStore:
    """The local store of a Faust table (RocksDB or memory), addressed by partition.

    Uses the stores' per-partition internals (`_db_for_partition`, `_key_partition`); both
    are stable across faust-streaming 0.1x and pinned by the project's dependency.
    """

    def __init__(self, table: Any) -> None:
        self._store = table.data
        self._rocksdb = hasattr(self._store, "_db_for_partition")

    def get(self, partition: int, key: bytes) -> bytes | None:
        if self._rocksdb:
            value: bytes | None = self._store._db_for_partition(partition).get(key)
            return value
        found: bytes | None = self._store.data.get(key)
        return found

    def write(self, partition: int, writes: Writes) -> None:
        store = self._store
        if self._rocksdb:
            # One RocksDB write batch. Faust's key-to-partition cache (`_key_index`) is left
            # alone: it only serves Faust's own lookups by key, which the worker never makes,
            # and keeping it costs a lock per key.
            batch = rocksdict.WriteBatch(raw_mode=True)
            for key, value in writes:
                if value is None:
                    batch.delete(key)
                else:
                    batch.put(key, value)
            store._db_for_partition(partition).write(batch)
            return
        for key, value in writes:
            if value is None:
                store.data.pop(key, None)
                store._key_partition.pop(key, None)
            else:
                store.data[key] = value
                store._key_partition[key] = partition

    def scan(self, partition: int, prefix: bytes) -> Iterator[bytes]:
        if self._rocksdb:
            for key in self._store._db_for_partition(partition).keys(from_key=prefix):
                if not key.startswith(prefix):
                    return
                yield key
        else:
            yield from sorted(k for k in self._store.data if k.startswith(prefix))
