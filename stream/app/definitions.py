"""The definitions topic on Kafka: create it compacted, publish a record, read every record.

One partition, so that every reader sees versions in the order they were published; reads
are bounded (from the earliest retained offset up to the end offset taken when the read
starts), with a plain consumer that joins no group and commits nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from stream.core.definitions import Record, decode, encode
from stream.ops.kafka_security import PLAINTEXT, KafkaSecurity
from stream.serving.topic import partition_count

COMPACTED = {"cleanup.policy": "compact"}
_MAX_BYTES = 16 * 1024 * 1024  # a definition file, however large, fits in one record


async def ensure_definitions_topic(
    bootstrap: str, topic: str, security: KafkaSecurity = PLAINTEXT
) -> None:
    """Create the definitions topic (one partition, compacted) unless it exists."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security.client_options())
    await admin.start()
    try:
        if topic in set(await admin.list_topics()):
            return
        with contextlib.suppress(TopicAlreadyExistsError):  # another process was first
            await admin.create_topics(
                [NewTopic(topic, num_partitions=1, replication_factor=1, topic_configs=COMPACTED)]
            )
    finally:
        await admin.close()


async def publish(
    bootstrap: str, topic: str, record: Record, security: KafkaSecurity = PLAINTEXT
) -> int:
    """Write `record`, acknowledged by every in-sync replica; returns its offset."""
    return (await publish_all(bootstrap, topic, [record], security))[0]


async def publish_all(
    bootstrap: str, topic: str, records: Sequence[Record], security: KafkaSecurity = PLAINTEXT
) -> list[int]:
    """Write `records` in order through one producer, each acknowledged by every in-sync
    replica before the next is sent; returns their offsets."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        max_request_size=_MAX_BYTES,
        **security.client_options(),
    )
    await producer.start()
    offsets = []
    try:
        for record in records:
            key, value = encode(record)
            sent = await producer.send_and_wait(topic, value, key=key, partition=0)
            offsets.append(int(sent.offset))
    finally:
        await producer.stop()
    return offsets


async def read_records(
    bootstrap: str, topic: str, security: KafkaSecurity = PLAINTEXT
) -> list[tuple[int, Record]]:
    """Every record retained in the topic, with its offset, in offset order.

    Messages that are not records (tombstones, foreign bytes) are left out; an empty or
    missing topic gives an empty list.
    """
    if not await partition_count(bootstrap, topic, security):
        return []
    partition = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_bytes=_MAX_BYTES,
        max_partition_fetch_bytes=_MAX_BYTES,
        **security.client_options(),
    )
    await consumer.start()
    try:
        consumer.assign([partition])
        end = (await consumer.end_offsets([partition]))[partition]
        await consumer.seek_to_beginning(partition)
        found: list[tuple[int, Record]] = []
        while await consumer.position(partition) < end:
            batches = await consumer.getmany(partition, timeout_ms=1000)
            for message in batches.get(partition, []):
                if message.offset >= end:
                    break
                record = decode(message.value)
                if record is not None:
                    found.append((message.offset, record))
        return found
    finally:
        await consumer.stop()
