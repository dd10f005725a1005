"""The records a batch makes durable: change messages, dead letters, re-keyed events, writes.

Both change sinks (`sink.KafkaSink` and `stream.testing.fakes.RecordingSink`) publish exactly
these, so what a test of the in-memory one sees is what Kafka would be sent.
"""

from __future__ import annotations

from stream.app.codecs import Headers, encode_change, encode_dead_letter
from stream.app.ports import Writes
from stream.app.processor import Effects
from stream.app.topics import TopicNames

# (topic, key, value, partition or None for the key's default partition, headers or None)
Message = tuple[str, bytes | None, bytes | None, int | None, Headers | None]


def outputs(effects: Effects, topics: TopicNames, source: str, at_us: int) -> list[Message]:
    """What `effects` publishes: its changes, dead letters stamped `at_us`, re-keyed events."""
    messages: list[Message] = []
    for change in effects.changes:
        key, value, headers = encode_change(change, source)
        messages.append((topics.changes, key, value, None, headers))
    for dead in effects.dead_letters:
        record = dead.record
        envelope = encode_dead_letter(
            reason=dead.reason,
            detail=dead.detail,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            original=record.value,
            at_us=at_us,
        )
        messages.append((topics.dead_letters, record.key, envelope, None, None))
    for key, value in effects.rekeyed:
        messages.append((topics.repartition, key, value, None, None))
    return messages


def changelog(topic: str, partition: int, writes: Writes) -> list[Message]:
    """Table writes as changelog records, on the partition of the input they came from."""
    return [(topic, key, value, partition, None) for key, value in writes]
