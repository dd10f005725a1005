"""Redis key names of the served memberships, one hash tag per change-topic partition.

Every key of partition 7 of namespace `segstream` starts with ``{segstream:p7}:``, so that
the materialiser's atomic step for one partition touches one Redis Cluster hash slot. The
layout is described key by key in docs/serving.md.
"""

from __future__ import annotations

from aiokafka.partitioner import murmur2


def prefix(namespace: str, partition: int) -> str:
    """The common start of every key of one partition: ``{namespace:pN}:``."""
    return f"{{{namespace}:p{partition}}}:"


def offset_key(namespace: str, partition: int) -> str:
    """String: the offset of the last change message applied from this partition."""
    return prefix(namespace, partition) + "o"


def contact_key(namespace: str, partition: int, contact_id: str) -> str:
    """Hash: SEQ, STAGE, GAPS and one field per segment the contact is in."""
    return prefix(namespace, partition) + "c:" + contact_id


def meta_key(namespace: str) -> str:
    """Hash (no hash tag, written alone): the change topic and its partition count."""
    return f"{namespace}:meta"


def partition_of(contact_id: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives the key `contact_id` (murmur2)."""
    hashed: int = murmur2(contact_id.encode())
    return (hashed & 0x7FFFFFFF) % partitions


def encode_since(since_us: int, holdout: bool) -> str:
    """A segment field's value: when the contact entered, and the holdout flag in the low bit."""
    return str(2 * since_us + int(holdout))


def decode_since(value: bytes) -> tuple[int, bool]:
    """(since in microseconds, holdout) of a segment field's value."""
    number = int(value)
    return number >> 1, bool(number & 1)
