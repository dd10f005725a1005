"""Sending many records at once as whole record batches, one per topic partition.

`AIOKafkaProducer.send` costs a future, a log call and the accumulator's bookkeeping per
record; a worker batch sends thousands. Building Kafka record batches directly and handing
each to `send_batch` pays that once per batch, with the same partitioning and per-partition
order as `send`, inside the producer's transaction when it has one open.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.structs import TopicPartition

from stream.app.faust_private import key_partitioner
from stream.app.outputs import Message


class RecordTooLarge(ValueError):
    """One record alone does not fit in a record batch (the producer's `max_batch_size`)."""


async def send_batched(
    producer: AIOKafkaProducer, messages: Sequence[Message]
) -> dict[TopicPartition, int]:
    """Send `messages` and wait until the broker acknowledged all of them.

    Records keep their order within each partition. Returns the offset of the last record
    written to each topic partition. The first failure propagates.
    """
    by_partition: dict[tuple[str, int], list[Message]] = {}
    choosers: dict[str, Callable[[bytes | None], int]] = {}
    for message in messages:
        topic, key, _, partition, _ = message
        if partition is None:
            choose = choosers.get(topic)
            if choose is None:
                choose = choosers[topic] = await key_partitioner(producer, topic)
            partition = choose(key)
        by_partition.setdefault((topic, partition), []).append(message)

    sent: list[tuple[TopicPartition, int, asyncio.Future[Any]]] = []
    for (topic, partition), records in by_partition.items():
        tp = TopicPartition(topic, partition)
        batch, count = producer.create_batch(), 0
        for _, key, value, _, headers in records:
            record = {"key": key, "value": value, "timestamp": None, "headers": headers or []}
            if batch.append(**record) is None:
                # Full: send it and start the next batch with this record.
                future = await producer.send_batch(batch, topic, partition=partition)
                sent.append((tp, count, future))
                batch, count = producer.create_batch(), 0
                if batch.append(**record) is None:
                    raise RecordTooLarge(f"a record for {topic} does not fit in a record batch")
            count += 1
        sent.append((tp, count, await producer.send_batch(batch, topic, partition=partition)))

    acknowledged = await asyncio.gather(*(future for _, _, future in sent))
    last: dict[TopicPartition, int] = {}
    for (tp, count, _), metadata in zip(sent, acknowledged, strict=True):
        last[tp] = max(last.get(tp, -1), metadata.offset + count - 1)
    return last
