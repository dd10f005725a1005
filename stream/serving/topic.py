"""The change topic as serving sees it: how many partitions, and the position of its end."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from stream.ops.kafka_security import PLAINTEXT, KafkaSecurity
from stream.serving.tokens import format_position


async def partition_count(bootstrap: str, topic: str, security: KafkaSecurity = PLAINTEXT) -> int:
    """How many partitions `topic` has; 0 if it does not exist (it is not created)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security.client_options())
    await admin.start()
    try:
        # Listing first: a metadata request naming a missing topic may auto-create it.
        if topic not in set(await admin.list_topics()):
            return 0
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sum(len(t["partitions"]) for t in described if t["topic"] == topic)


async def end_position(bootstrap: str, topic: str, security: KafkaSecurity = PLAINTEXT) -> str:
    """The position token of the last message of every non-empty partition of `topic`.

    Passed as `min_position`, it makes the API answer only once everything now on the topic
    is applied.
    """
    count = await partition_count(bootstrap, topic, security)
    if not count:
        return ""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, **security.client_options()
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(count)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return format_position({tp.partition: end - 1 for tp, end in ends.items() if end > 0})
