"""Keys of the worker's one changelogged table: contact states, deadline index, partition meta.

All three kinds live in one table so that, per input partition, they share one changelog
partition and are written in order: a crash can persist a prefix of a batch's writes but
never a later write without the earlier ones (see docs/worker.md, "Deadline index").
"""

from __future__ import annotations

import struct

STATE = b"s"
DEADLINE = b"d"
META = b"m"

_PARTITION = struct.Struct(">H")
_DEADLINE = struct.Struct(">Hq")


def state_key(contact_id: str) -> bytes:
    """Where a contact's encoded state lives."""
    return STATE + contact_id.encode()


def contact_of(key: bytes) -> str:
    """The contact id of a state key (`state_key`)."""
    return key[len(STATE) :].decode()


def deadline_key(partition: int, deadline_us: int, contact_id: str) -> bytes:
    """An index entry; within a partition the keys sort by deadline (big-endian)."""
    return DEADLINE + _DEADLINE.pack(partition, deadline_us) + contact_id.encode()


def deadline_prefix(partition: int) -> bytes:
    """The common prefix of every index entry of one partition."""
    return DEADLINE + _PARTITION.pack(partition)


def parse_deadline_key(key: bytes) -> tuple[int, str]:
    """(deadline, contact id) of an index entry."""
    _, deadline = _DEADLINE.unpack_from(key, 1)
    return deadline, key[1 + _DEADLINE.size :].decode()


def meta_key(partition: int) -> bytes:
    """The partition's clock and counters."""
    return META + _PARTITION.pack(partition)
