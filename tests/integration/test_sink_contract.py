"""The `ChangeSink` contract, run against the in-memory recording sink and the Kafka sink.

`SinkContract` holds the cases (the shape of arroyo's `StreamsTestMixin`); each subclass
provides a `subject` fixture: one sink, the store it writes and a way to read back what it
published. The Kafka one runs on the real broker, through a Faust app whose producer alone
is started.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.structs import TopicPartition

from stream.app import faust_private
from stream.app.admin import ensure_topics
from stream.app.batches import RecordTooLarge
from stream.app.factory import create_app
from stream.app.outputs import Message, outputs
from stream.app.ports import ChangeSink, PartitionStore, Writes
from stream.app.processor import Effects, Partition, Policy, Record
from stream.app.sink import KafkaSink
from stream.app.store import table_store
from stream.app.topics import TopicNames
from stream.core.evaluation.engine import Engine
from stream.core.language.loader import load_text
from stream.settings import Settings
from stream.testing.fakes import MAX_RECORD_BYTES, FixedClock, MemoryStore, RecordingSink
from stream.testing.waiting import wait_for_async

RULES = """
version: 1
segments:
  - id: visitors
    when: {event: page_view}
  - id: regulars
    when: {event: page_view, count: {gte: 2}}
"""
SOURCE = "urn:segstream:contract"
AT_US = 1_795_000_000_000_000  # the sinks' clock: it stamps dead letters
TOO_LARGE = b"x" * (2 * MAX_RECORD_BYTES)  # more than the broker accepts in one record
PARTITIONS = 4
READ_TIMEOUT_S = 60.0

Published = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]  # key, value, headers


class Subject(ABC):
    """One sink under test, the store it writes, and what reached its topics."""

    def __init__(self, sink: ChangeSink, store: PartitionStore, topics: TopicNames) -> None:
        self.sink = sink
        self.store = store
        self.topics = topics

    @abstractmethod
    async def published(self, topic: str, count: int) -> list[Published]:
        """The first `count` records published to `topic`, each partition's in order."""


def _event(offset: int, contact: str) -> bytes:
    event = {
        "event_id": f"e-{offset}",
        "contact_id": contact,
        "type": "page_view",
        "timestamp": f"2026-11-20T10:00:{offset:02d}Z",
    }
    return orjson.dumps(event)


def applied_batch(topics: TopicNames) -> tuple[Effects, Writes]:
    """What a partition makes of a few records: changes, a dead letter, a re-keyed event."""
    part = Partition(0, Engine(load_text(RULES, "rules.yaml")), MemoryStore(), Policy("event"))
    records = [
        Record(topics.events, 0, 0, b"c-1", _event(0, "c-1")),
        Record(topics.events, 0, 1, b"c-9", b"not json"),
        Record(topics.events, 0, 2, None, _event(2, "c-2")),
        Record(topics.events, 0, 3, b"c-1", _event(3, "c-1")),
    ]
    effects = Effects()
    for record in records:
        part.handle(record, FixedClock(AT_US), effects)
    return effects, part.take_writes()


def _by_key(records: Sequence[Published]) -> list[Published]:
    # Across partitions Kafka keeps no order; a key's records share one partition, and a
    # stable sort keeps their order.
    return sorted(records, key=lambda r: r[0] or b"")


def _expected(messages: Sequence[Message], topic: str) -> list[Published]:
    return [(k, v, list(h or [])) for t, k, v, _, h in messages if t == topic]


class SinkContract:
    """What the runtime relies on of a change sink; subclasses provide `subject`."""

    refused: type[Exception]  # what the sink raises for a record the broker does not accept

    async def test_a_batch_publishes_its_outputs_and_writes_its_states(
        self, subject: Subject
    ) -> None:
        topics = subject.topics
        effects, writes = applied_batch(topics)
        await subject.sink.commit([(0, effects, writes)])

        expected = outputs(effects, topics, SOURCE, AT_US)
        counts = {}
        for topic in (topics.changes, topics.dead_letters, topics.repartition):
            want = _expected(expected, topic)
            counts[topic] = len(want)
            assert _by_key(await subject.published(topic, len(want))) == _by_key(want)
        assert counts == {topics.changes: 2, topics.dead_letters: 1, topics.repartition: 1}
        assert writes
        assert [(k, subject.store.get(0, k)) for k, _ in writes] == list(writes)

    async def test_the_writes_of_each_partition_reach_that_partition(
        self, subject: Subject
    ) -> None:
        first: list[tuple[bytes, bytes | None]] = [(b"s-a", b"1"), (b"s-b", b"2")]
        await subject.sink.commit([(1, Effects(), first), (2, Effects(), [(b"s-c", b"3")])])
        await subject.sink.commit([(1, Effects(), [(b"s-a", None), (b"s-b", b"4")])])
        store = subject.store
        assert [store.get(1, b"s-a"), store.get(1, b"s-b"), store.get(2, b"s-c")] == [
            None,
            b"4",
            b"3",
        ]

    async def test_an_output_the_broker_refuses_fails_the_commit_and_writes_nothing(
        self, subject: Subject
    ) -> None:
        effects = Effects(rekeyed=[(b"c-big", TOO_LARGE)])
        with pytest.raises(self.refused):
            await subject.sink.commit([(0, effects, [(b"s-big", b"state")])])
        assert subject.store.get(0, b"s-big") is None

    async def test_a_write_the_broker_refuses_fails_the_commit_and_writes_nothing(
        self, subject: Subject
    ) -> None:
        writes = [(b"s-small", b"state"), (b"s-big", TOO_LARGE)]
        with pytest.raises(self.refused):
            await subject.sink.commit([(0, Effects(), writes)])
        assert (subject.store.get(0, b"s-small"), subject.store.get(0, b"s-big")) == (None, None)


TOPICS = TopicNames("events", "events-repartition", "changes", "dlq", "state-changelog")


class RecordingSubject(Subject):
    def __init__(self) -> None:
        store = MemoryStore()
        self.recording = RecordingSink(store, TOPICS, source=SOURCE, clock=FixedClock(AT_US))
        super().__init__(self.recording, store, TOPICS)

    async def published(self, topic: str, count: int) -> list[Published]:
        return _expected(self.recording.on(topic), topic)[:count]


class TestRecordingSink(SinkContract):
    refused = RecordTooLarge

    @pytest.fixture
    def subject(self) -> Subject:
        return RecordingSubject()


class KafkaSubject(Subject):
    def __init__(self, wapp: Any, store: PartitionStore, bootstrap: str) -> None:
        sink = KafkaSink(
            wapp.app, wapp.table, store, wapp.topics, source=SOURCE, clock=FixedClock(AT_US)
        )
        super().__init__(sink, store, wapp.topics)
        self.wapp = wapp
        self.bootstrap = bootstrap

    async def published(self, topic: str, count: int) -> list[Published]:
        return [(k, v, h) for _, k, v, h in await self.read(topic, count)]

    async def read(
        self, topic: str, count: int
    ) -> list[tuple[int, bytes | None, bytes | None, list[tuple[str, bytes]]]]:
        """The first `count` records of `topic` with their partitions."""
        if count == 0:
            return []
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=self.bootstrap, group_id=None, auto_offset_reset="earliest"
        )
        await consumer.start()
        found: list[tuple[int, bytes | None, bytes | None, list[tuple[str, bytes]]]] = []

        async def all_read() -> bool:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                found.extend((r.partition, r.key, r.value, list(r.headers)) for r in batch)
            return len(found) >= count

        try:
            await wait_for_async(all_read, READ_TIMEOUT_S, interval=0, what=f"{count} on {topic}")
        finally:
            await consumer.stop()
        return found


async def _until_known(producer: AIOKafkaProducer, names: Sequence[str]) -> None:
    """Wait until the broker lists every topic of `names` with all its partitions.

    A topic just created may be missing from the broker's metadata for a moment; a producer
    that asks then logs an error (and retries), which would fail the test.
    """

    async def known() -> bool:
        cluster = await producer.client.fetch_all_metadata()
        return all(len(cluster.partitions_for_topic(n) or ()) == PARTITIONS for n in names)

    await wait_for_async(known, READ_TIMEOUT_S, what="the new topics in the broker's metadata")


class TestKafkaSink(SinkContract):
    refused = MessageSizeTooLargeError

    @pytest.fixture
    async def subject(
        self, kafka_bootstrap: str, unique_name: str, tmp_path: Path
    ) -> AsyncIterator[KafkaSubject]:
        settings = Settings.from_env(
            {},
            broker=f"kafka://{kafka_bootstrap}",
            app_id=unique_name,
            state_dir=tmp_path,
            partitions=PARTITIONS,
            events_topic=f"{unique_name}-events",
            changes_topic=f"{unique_name}-changes",
            dlq_topic=f"{unique_name}-dlq",
        )
        wapp = create_app(settings)
        t = wapp.topics
        names = [t.events, t.repartition, t.changes, t.dead_letters, t.changelog]
        await ensure_topics(kafka_bootstrap, names, PARTITIONS)
        await wapp.app.producer.start()
        try:
            await _until_known(faust_private.producer(wapp.app), names)
            yield KafkaSubject(wapp, table_store(wapp.table), kafka_bootstrap)
        finally:
            await wapp.app.producer.stop()

    async def test_writes_go_to_the_changelog_partition_of_their_input_and_set_its_offset(
        self, subject: KafkaSubject
    ) -> None:
        """Recovery reads each changelog partition from the offset the store persisted."""
        batches: list[tuple[int, Effects, Writes]] = [
            (1, Effects(), [(b"s-a", b"1"), (b"s-b", b"2")]),
            (3, Effects(), [(b"s-c", b"3")]),
        ]
        await subject.sink.commit(batches)
        changelog = subject.topics.changelog
        records = await subject.read(changelog, 3)
        assert sorted((p, k, v) for p, k, v, _ in records) == [
            (1, b"s-a", b"1"),
            (1, b"s-b", b"2"),
            (3, b"s-c", b"3"),
        ]
        data = subject.wapp.table.data
        persisted = [data.persisted_offset(TopicPartition(changelog, p)) for p in (1, 3)]
        assert persisted == [1, 0]
