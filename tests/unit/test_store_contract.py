"""The `PartitionStore` contract, run against the in-memory store and the worker's real ones.

`StoreContract` holds the cases (the shape of arroyo's `StreamsTestMixin`); each subclass
supplies one implementation. The Faust-backed stores need no broker: RocksDB opens its
files under the test's directory, and nothing connects until a worker starts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import pytest

from stream.app import keys
from stream.app.factory import create_app
from stream.app.ports import PartitionStore
from stream.app.store import FaustMemoryStore, RocksDBStore, table_store
from stream.settings import Settings
from stream.testing.fakes import MemoryStore


class StoreContract(ABC):
    """What the worker's `Partition` relies on, whichever store holds the table."""

    @abstractmethod
    def make(self, tmp_path: Path) -> PartitionStore:
        """A new, empty store of the implementation under test."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> PartitionStore:
        return self.make(tmp_path)

    def test_a_key_never_written_reads_as_none(self, store: PartitionStore) -> None:
        assert store.get(0, b"s-nobody") is None

    def test_writes_set_replace_and_delete(self, store: PartitionStore) -> None:
        store.write(1, [(b"s-a", b"1"), (b"s-b", b"2")])
        store.write(1, [(b"s-a", b"3"), (b"s-b", None), (b"s-never", None)])
        assert (store.get(1, b"s-a"), store.get(1, b"s-b"), store.get(1, b"s-never")) == (
            b"3",
            None,
            None,
        )

    @pytest.mark.parametrize(
        ("writes", "left"),
        [
            ([(b"k", b"1"), (b"k", b"2")], b"2"),
            ([(b"k", b"1"), (b"k", None)], None),
            ([(b"k", None), (b"k", b"2")], b"2"),
        ],
        ids=["set twice", "set then delete", "delete then set"],
    )
    def test_the_writes_of_one_call_apply_in_order(
        self, store: PartitionStore, writes: list[tuple[bytes, bytes | None]], left: bytes | None
    ) -> None:
        store.write(2, writes)
        assert store.get(2, b"k") == left

    def test_any_bytes_are_kept_as_they_are(self, store: PartitionStore) -> None:
        value = bytes(range(256)) * 3
        store.write(0, [(b"s-\x00\xff", value), (b"s-empty", b"")])
        assert store.get(0, b"s-\x00\xff") == value
        assert store.get(0, b"s-empty") == b""

    def test_a_scan_yields_the_keys_with_the_prefix_in_byte_order(
        self, store: PartitionStore
    ) -> None:
        prefix = b"d\x00\x01"
        inside = [prefix, prefix + b"\x00", prefix + b"\x7f", prefix + b"\x80", prefix + b"\xff"]
        outside = [b"d\x00\x00\xff", b"d\x00\x02", b"d\x00", b"s" + prefix]
        store.write(5, [(k, b"1") for k in [*reversed(inside), *outside]])
        assert list(store.scan(5, prefix)) == inside

    def test_a_scan_leaves_out_deleted_keys_and_may_find_none(self, store: PartitionStore) -> None:
        store.write(4, [(b"d-1", b"1"), (b"d-2", b"1")])
        store.write(4, [(b"d-1", None)])
        assert list(store.scan(4, b"d-")) == [b"d-2"]
        assert list(store.scan(4, b"x")) == []
        assert list(store.scan(6, keys.deadline_prefix(6))) == []

    def test_a_scan_finds_only_its_partitions_keys(self, store: PartitionStore) -> None:
        """As a switch lists a partition's contacts: every state key of it, none of another."""
        store.write(1, [(keys.state_key("c-1"), b"1"), (keys.state_key("c-3"), b"1")])
        store.write(2, [(keys.state_key("c-2"), b"1")])
        assert [keys.contact_of(k) for k in store.scan(1, keys.STATE)] == ["c-1", "c-3"]
        assert [keys.contact_of(k) for k in store.scan(2, keys.STATE)] == ["c-2"]

    def test_the_deadline_index_scans_in_deadline_order(self, store: PartitionStore) -> None:
        """As `Partition` reloads it: every entry of its partition, earliest deadline first."""
        entries = [(3, 2_000, "b"), (3, 1_000, "z"), (3, 1_000, "a"), (3, 2**40, "c")]
        other = [(2, 500, "x"), (4, 1_500, "y")]
        store.write(3, [(keys.deadline_key(p, d, c), b"1") for p, d, c in entries])
        for p, d, c in other:
            store.write(p, [(keys.deadline_key(p, d, c), b"1")])
        found = [keys.parse_deadline_key(k) for k in store.scan(3, keys.deadline_prefix(3))]
        assert found == [(1_000, "a"), (1_000, "z"), (2_000, "b"), (2**40, "c")]


class TestMemoryStore(StoreContract):
    def make(self, tmp_path: Path) -> PartitionStore:
        return MemoryStore()


def _faust_table_store(tmp_path: Path, url: str) -> PartitionStore:
    settings = Settings.from_env({}, state_dir=tmp_path, store=url, app_id="store-contract")
    return table_store(create_app(settings).table)


class TestRocksDBStore(StoreContract):
    def make(self, tmp_path: Path) -> PartitionStore:
        store = _faust_table_store(tmp_path, "rocksdb://")
        assert isinstance(store, RocksDBStore)
        return store


class TestFaustMemoryStore(StoreContract):
    def make(self, tmp_path: Path) -> PartitionStore:
        store = _faust_table_store(tmp_path, "memory://")
        assert isinstance(store, FaustMemoryStore)
        return store
