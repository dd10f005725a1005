"""Partition-explicit access to the worker's table: local reads and writes, ordered scans.

Faust's table API picks the partition from the event being processed. A batch mixes
partitions and timers run with no event at all, so the worker addresses the local store
per partition itself and sends the changelog records itself (`stream.app.sink`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol


class PartitionStore(Protocol):
    """The local copy of the table, addressed by partition."""

    def get(self, partition: int, key: bytes) -> bytes | None: ...

    def put(self, partition: int, key: bytes, value: bytes | None) -> None:
        """Set a key, or delete it when `value` is None."""

    def scan(self, partition: int, prefix: bytes) -> Iterator[bytes]:
        """Keys starting with `prefix`, in byte order."""


class MemoryStore:
    """A plain dict per partition; for tests of the processor without Kafka."""

    def __init__(self) -> None:
        self.data: dict[int, dict[bytes, bytes]] = {}

    def get(self, partition: int, key: bytes) -> bytes | None:
        return self.data.get(partition, {}).get(key)

    def put(self, partition: int, key: bytes, value: bytes | None) -> None:
        part = self.data.setdefault(partition, {})
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

    def put(self, partition: int, key: bytes, value: bytes | None) -> None:
        store = self._store
        if self._rocksdb:
            db = store._db_for_partition(partition)
            if value is None:
                db.delete(key)
                store._key_index.pop(key, None)
            else:
                db.put(key, value)
                store._key_index[key] = partition
        elif value is None:
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
