"""The records a batch makes durable: change messages, dead letters, re-keyed events, writes.

Both change sinks (`sink.KafkaSink` and `stream.testing.fakes.RecordingSink`) publish exactly
these, so what a test of the in-memory one sees is what Kafka would be sent.
"""

from __future__ import annotations

from stream.app.codecs import MAX_DEAD_LETTER_BYTES, Headers, encode_change, encode_dead_letter
from stream.app.ports import Writes
from stream.app.processor import Effects
from stream.app.topics import TopicNames

# (topic, key, value, partition or None for the key's default partition, headers or None)
Message = tuple[str, bytes | None, bytes | None, int | None, Headers | None]
# A dead letter keeps its input's key (the contact id, usually) up to this size; a longer one
# is dropped, so that the envelope keeps its room under the record limit.
MAX_KEY_BYTES = 4096


def outputs(
    effects: Effects,
    topics: TopicNames,
    source: str,
    at_us: int,
    dead_letter_bytes: int = MAX_DEAD_LETTER_BYTES,
) -> list[Message]:
    """What `effects` publishes: its changes, dead letters stamped `at_us`, re-keyed events.

    A dead letter's record (key and envelope) is at most `dead_letter_bytes` long.
    """
    messages: list[Message] = []
    for change in effects.changes:
        key, value, headers = encode_change(change, source)
        messages.append((topics.changes, key, value, None, headers))
    for dead in effects.dead_letters:
        record = dead.record
        kept = record.key if record.key is None or len(record.key) <= MAX_KEY_BYTES else None
        envelope = encode_dead_letter(
            reason=dead.reason,
            detail=dead.detail,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            original=record.value,
            at_us=at_us,
            max_bytes=dead_letter_bytes - len(kept or b""),
        )
        messages.append((topics.dead_letters, kept, envelope, None, None))
    for contact, value in effects.rekeyed:
        messages.append((topics.repartition, contact, value, None, None))
    return messages


def changelog(topic: str, partition: int, writes: Writes) -> list[Message]:
    """Table writes as changelog records, on the partition of the input they came from."""
    return [(topic, key, value, partition, None) for key, value in writes]
