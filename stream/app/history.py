"""A bounded re-read of a topic's retained history, one JSON-lines file per partition.

A plain consumer assigned to the partitions (no group, no commits), from the earliest
retained offset to the end offset taken when the read starts, so that it neither disturbs
nor waits for whoever else reads the topic.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from stream.ops.kafka_security import PLAINTEXT, KafkaSecurity
from stream.serving.topic import partition_count

_BATCH = 10_000


@dataclass(frozen=True, slots=True)
class PartitionHistory:
    """Partition `partition`'s retained messages, one per line of `path`."""

    partition: int
    path: str
    messages: int
    truncated: bool  # retention has removed its oldest messages


async def read_history(
    bootstrap: str, topic: str, into: str, security: KafkaSecurity = PLAINTEXT
) -> list[PartitionHistory]:
    """Write each partition of `topic` up to its current end to a file under `into`.

    A message value with a line break in it is written with the break replaced by a
    space: JSON needs none, and an invalid message stays one invalid line. A tombstone
    is written as an empty line, which replay skips: it changes no contact in the worker
    either (it goes to the dead-letter topic).
    """
    count = await partition_count(bootstrap, topic, security)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **security.client_options(),
    )
    await consumer.start()
    try:
        assigned = [TopicPartition(topic, p) for p in range(count)]
        if not assigned:
            return []
        consumer.assign(assigned)
        ends = await consumer.end_offsets(assigned)
        starts = await consumer.beginning_offsets(assigned)
        found = []
        for tp in assigned:
            path = os.path.join(into, f"partition-{tp.partition}.jsonl")
            count = await _copy(consumer, tp, ends[tp], path)
            found.append(PartitionHistory(tp.partition, path, count, starts[tp] > 0))
        return found
    finally:
        await consumer.stop()


async def _copy(consumer: AIOKafkaConsumer, tp: TopicPartition, end: int, path: str) -> int:
    await consumer.seek_to_beginning(tp)
    count = 0
    with open(path, "wb") as out:
        while await consumer.position(tp) < end:
            batches = await consumer.getmany(tp, timeout_ms=1000, max_records=_BATCH)
            for message in batches.get(tp, []):
                if message.offset >= end:
                    break
                value = message.value or b""
                out.write(value.replace(b"\n", b" ").replace(b"\r", b" ") + b"\n")
                count += 1
    return count
