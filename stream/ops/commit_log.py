"""When a consumer group last committed each partition, read from Kafka's `__consumer_offsets`.

Kafka answers "what is the committed offset" but not "when was it committed"; Burrow's
STOP and STALL rules need the latter. The group coordinator appends every commit to one
partition of `__consumer_offsets` (the one Kafka's `partitionFor(group)` names), timestamped
when it was written, so reading that partition from a look-back instant on gives the time of
each commit since. Only the record's key is decoded (its layout has not changed since Kafka
0.9); values are never parsed beyond the committed offset that leads them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from stream.ops.kafka_security import PLAINTEXT, KafkaSecurity

OFFSETS_TOPIC = "__consumer_offsets"
READ_TIMEOUT_MS = 2000  # one look at the log; a slow broker means older commit times
_OFFSET_COMMIT_KEYS = (0, 1)  # key versions of an offset commit (2 is group metadata)


def java_string_hash(text: str) -> int:
    """Java's `String.hashCode()` of `text`: a 32-bit signed sum over its UTF-16 code units."""
    units = text.encode("utf-16-be")
    h = 0
    for i in range(0, len(units), 2):
        h = (31 * h + int.from_bytes(units[i : i + 2], "big")) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def offsets_partition(group: str, partitions: int) -> int:
    """The partition of `__consumer_offsets` holding `group`'s commits (Kafka's
    `Utils.abs(group.hashCode()) % partitions`, where the abs of the minimum int is 0)."""
    h = java_string_hash(group)
    return (0 if h == -(1 << 31) else abs(h)) % partitions


@dataclass(frozen=True, slots=True)
class Commit:
    """One offset commit of a partition."""

    group: str
    topic: str
    partition: int
    offset: int | None  # None for a tombstone (the offset was deleted)


def parse_commit(key: bytes | None, value: bytes | None) -> Commit | None:
    """The offset commit a `__consumer_offsets` record holds, or None if it holds another kind."""
    if key is None or len(key) < 2:
        return None
    (version,) = struct.unpack_from(">h", key, 0)
    if version not in _OFFSET_COMMIT_KEYS:
        return None
    pos = 2
    fields: list[str] = []
    for _ in range(2):
        (size,) = struct.unpack_from(">h", key, pos)
        pos += 2
        fields.append(key[pos : pos + size].decode())
        pos += size
    (partition,) = struct.unpack_from(">i", key, pos)
    offset = None if value is None else struct.unpack_from(">q", value, 2)[0]
    return Commit(fields[0], fields[1], partition, offset)


class CommitLog:
    """Follows the group's partition of `__consumer_offsets` from a look-back instant on."""

    def __init__(
        self, bootstrap: str, group: str, lookback_ms: int, security: KafkaSecurity = PLAINTEXT
    ) -> None:
        self.group = group
        self.lookback_ms = lookback_ms
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            **security.client_options(),
        )
        self._tp: TopicPartition | None = None
        self._last: dict[tuple[str, int], int] = {}  # (topic, partition) -> commit time (ms)

    async def start(self) -> None:
        """Connect."""
        await self._consumer.start()

    @property
    def following(self) -> bool:
        """Whether `follow` found the group's partition of `__consumer_offsets`."""
        return self._tp is not None

    async def follow(self, now_ms: int, partitions: int) -> None:
        """Position on the first commit of the look-back before `now_ms`.

        `partitions` is the partition count of `__consumer_offsets`; 0 while it does not
        exist (no group committed on this cluster yet), and then this does nothing.
        """
        if not partitions:
            return
        consumer = self._consumer
        tp = self._tp = TopicPartition(OFFSETS_TOPIC, offsets_partition(self.group, partitions))
        consumer.assign([tp])
        found = await consumer.offsets_for_times({tp: max(0, now_ms - self.lookback_ms)})
        at = found.get(tp)
        if at is None:
            await consumer.seek_to_end(tp)
        else:
            consumer.seek(tp, at.offset)

    async def stop(self) -> None:
        await self._consumer.stop()

    async def last_commits(self) -> dict[tuple[str, int], int]:
        """Read what was appended since the last call; per (topic, partition) of the group,
        the time (ms) of its last commit within the look-back."""
        tp = self._tp
        if tp is None:
            return dict(self._last)
        consumer = self._consumer
        end = (await consumer.end_offsets([tp]))[tp]
        while await consumer.position(tp) < end:
            got = await consumer.getmany(tp, timeout_ms=READ_TIMEOUT_MS)
            if not got:
                break
            for record in got.get(tp, []):
                commit = parse_commit(record.key, record.value)
                if commit is not None and commit.group == self.group and commit.offset is not None:
                    where = (commit.topic, commit.partition)
                    self._last[where] = max(self._last.get(where, 0), record.timestamp)
        return dict(self._last)
