"""Finding and decoding a group's commits in `__consumer_offsets`, as Kafka writes them."""

from __future__ import annotations

import struct

import pytest

from stream.ops.commit_log import Commit, java_string_hash, offsets_partition, parse_commit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("test", 3556498),  # Java: "test".hashCode()
        ("hello", 99162322),
        ("é", 233),
        ("😀", 31 * 0xD83D + 0xDE00),  # two UTF-16 code units
        ("polygenelubricants", -(1 << 31)),  # Java's famous Integer.MIN_VALUE hash
    ],
)
def test_java_string_hash(text: str, expected: int) -> None:
    assert java_string_hash(text) == expected


def test_the_group_partition_is_kafkas_abs_hash_modulo() -> None:
    assert offsets_partition("test", 50) == 3556498 % 50
    assert offsets_partition("polygenelubricants", 50) == 0  # Utils.abs(MIN_VALUE) is 0
    assert offsets_partition("hello", 1) == 0


def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">h", len(raw)) + raw


def _key(version: int, group: str, topic: str, partition: int) -> bytes:
    return (
        struct.pack(">h", version) + _string(group) + _string(topic) + struct.pack(">i", partition)
    )


def test_an_offset_commit_is_decoded_from_key_and_value() -> None:
    value = struct.pack(">hqi", 3, 1234, -1) + _string("") + struct.pack(">q", 99)
    assert parse_commit(_key(1, "g", "events", 7), value) == Commit("g", "events", 7, 1234)
    assert parse_commit(_key(0, "g", "events", 7), None) == Commit("g", "events", 7, None)


def test_other_records_are_not_commits() -> None:
    group_metadata = struct.pack(">h", 2) + _string("g")
    assert parse_commit(group_metadata, b"\x00\x03") is None
    assert parse_commit(None, None) is None
    assert parse_commit(b"\x00", None) is None
