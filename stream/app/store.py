"""The worker's `PartitionStore`: the local store of its Faust table (RocksDB or memory).

Faust's table API picks the partition from the event being processed. A batch mixes
partitions and timers run with no event at all, so the worker addresses the local store
per partition itself and sends the changelog records itself (`stream.app.sink`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import rocksdict

from stream.app import faust_private
from stream.app.ports import PartitionStore, Writes


def table_store(table: Any) -> PartitionStore:
    """The local store of Faust `table`, addressed by partition."""
    db = faust_private.partition_db(table)
    return FaustMemoryStore(table) if db is None else RocksDBStore(db)


class RocksDBStore:
    """A table's RocksDB store: one database per partition (`rocksdb://`)."""

    def __init__(self, db: Callable[[int], Any]) -> None:
        self._db = db  # the partition's database, opened by Faust on first use

    def get(self, partition: int, key: bytes) -> bytes | None:
        value: bytes | None = self._db(partition).get(key)
        return value

    def write(self, partition: int, writes: Writes) -> None:
        # One RocksDB write batch. Faust's key-to-partition cache (`_key_index`) is left
        # alone: it only serves Faust's own lookups by key, which the worker never makes,
        # and keeping it costs a lock per key.
        batch = rocksdict.WriteBatch(raw_mode=True)
        for key, value in writes:
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        self._db(partition).write(batch)

    def scan(self, partition: int, prefix: bytes) -> Iterator[bytes]:
        for key in self._db(partition).keys(from_key=prefix):
            if not key.startswith(prefix):
                return
            yield key


class FaustMemoryStore:
    """A table's memory store (`memory://`): one dict for every partition."""

    def __init__(self, table: Any) -> None:
        self._store = table.data
        self._key_partition = faust_private.key_partitions(table)

    def get(self, partition: int, key: bytes) -> bytes | None:
        found: bytes | None = self._store.data.get(key)
        return found

    def write(self, partition: int, writes: Writes) -> None:
        data, key_partition = self._store.data, self._key_partition
        for key, value in writes:
            if value is None:
                data.pop(key, None)
                key_partition.pop(key, None)
            else:
                data[key] = value
                key_partition[key] = partition

    def scan(self, partition: int, prefix: bytes) -> Iterator[bytes]:
        where = self._key_partition.get
        found = (k for k in self._store.data if k.startswith(prefix) and where(k) == partition)
        return iter(sorted(found))
