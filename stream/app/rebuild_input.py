"""A bounded re-read of one input partition's topics, for a rebuild, beside the live consumer.

A plain consumer assigned to the partition of each input topic (no group, no commits), from
the earliest retained offset; each `read` goes up to the offsets it is given (the live
path's position), so that rounds can catch up with a live path that moves on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition

from stream.app.records import Record
from stream.ops.kafka_security import KafkaSecurity

CHUNK = 500  # records handed over at a time, between two returns to the event loop


class PartitionInput:
    """Partition `partition` of every topic of `topics`, read in chunks up to given offsets."""

    def __init__(
        self,
        bootstrap: str,
        security: KafkaSecurity,
        topics: Sequence[str],
        partition: int,
        *,
        committed_only: bool = False,
    ) -> None:
        self._tps = [TopicPartition(topic, partition) for topic in topics]
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed" if committed_only else "read_uncommitted",
            **security.client_options(),
        )
        self.position: dict[str, int] = {}  # next offset to read per topic
        self.first: dict[str, int] = {}  # earliest retained offset per topic

    async def start(self) -> None:
        """Connect and go to the earliest retained record of each topic."""
        consumer = self._consumer
        await consumer.start()
        consumer.assign(self._tps)
        starts = await consumer.beginning_offsets(self._tps)
        for tp in self._tps:
            consumer.seek(tp, starts[tp])
            self.position[tp.topic] = self.first[tp.topic] = starts[tp]

    def truncated(self) -> bool:
        """Whether retention has removed the oldest records of some topic."""
        return any(offset > 0 for offset in self.first.values())

    async def stop(self) -> None:
        await self._consumer.stop()

    def left(self, until: dict[str, int]) -> int:
        """Offsets between the position and `until`, over every topic (an upper bound on
        the records: transaction markers take offsets too)."""
        return sum(max(0, until.get(t, 0) - self.position[t]) for t in self.position)

    async def read(self, until: dict[str, int]) -> AsyncIterator[list[Record]]:
        """The records from the position up to `until` (exclusive), in chunks; the input
        topics take turns chunk by chunk (the live path's own interleaving is not recorded)."""
        consumer = self._consumer
        while True:
            pending = [tp for tp in self._tps if self.position[tp.topic] < until.get(tp.topic, 0)]
            if not pending:
                return
            for tp in pending:
                end = until.get(tp.topic, 0)
                found = await consumer.getmany(tp, timeout_ms=1000, max_records=CHUNK)
                chunk = [
                    Record(m.topic, m.partition, m.offset, m.key, m.value, m.timestamp / 1000)
                    for m in found.get(tp, [])
                    if m.offset < end
                ]
                position = await consumer.position(tp)
                if position >= end:
                    if position > end:
                        consumer.seek(tp, end)  # the next round starts from here
                    position = end
                self.position[tp.topic] = position
                if chunk:
                    yield chunk
