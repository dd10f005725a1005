"""In-memory implementations of the worker's ports (`stream.app.ports`), for tests and users.

Each keeps the contract its real sibling keeps; tests/unit/test_store_contract.py and
tests/integration/test_sink_contract.py run the same cases against both.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from stream.app.batches import RecordTooLarge
from stream.app.codecs import MAX_DEAD_LETTER_BYTES
from stream.app.outputs import Message, changelog, outputs
from stream.app.ports import Clock, PartitionBatch, PartitionStore, Writes
from stream.app.topics import TopicNames

# The largest record Kafka accepts by default (the broker's `message.max.bytes`, less the
# record batch's own header).
MAX_RECORD_BYTES = 1_048_576


class FixedClock:
    """A `Clock` that reads `now_us` until told otherwise."""

    def __init__(self, now_us: int = 0) -> None:
        self.now_us = now_us

    def __call__(self) -> int:
        return self.now_us

    def advance(self, us: int) -> None:
        """Move the clock `us` microseconds on."""
        self.now_us += us


class MemoryStore:
    """A `PartitionStore` as a plain dict per partition."""

    def __init__(self) -> None:
        self.data: dict[int, dict[bytes, bytes]] = {}

    def get(self, partition: int, key: bytes) -> bytes | None:
        return self.data.get(partition, {}).get(key)

    def write(self, partition: int, writes: Writes) -> None:
        part = self.data.setdefault(partition, {})
        for key, value in writes:
            if value is None:
                part.pop(key, None)
            else:
                part[key] = value

    def scan(self, partition: int, prefix: bytes) -> Iterator[bytes]:
        return iter(sorted(k for k in self.data.get(partition, {}) if k.startswith(prefix)))


class RecordingSink:
    """A `ChangeSink` that keeps what Kafka would be sent, then writes the store.

    It refuses what the broker would: a batch with a record larger than `max_record_bytes`,
    among its outputs or its writes. Set `refuse` to fail every commit as an unreachable
    broker would.
    """

    def __init__(
        self,
        store: PartitionStore,
        topics: TopicNames,
        *,
        source: str,
        clock: Clock,
        max_record_bytes: int = MAX_RECORD_BYTES,
        dead_letter_bytes: int = MAX_DEAD_LETTER_BYTES,
    ) -> None:
        self.store = store
        self.topics = topics
        self.source = source
        self.clock = clock
        self.max_record_bytes = max_record_bytes
        self.dead_letter_bytes = dead_letter_bytes
        self.refuse: Exception | None = None
        self.published: list[Message] = []  # outputs, in the order they were acknowledged
        self.changelog: list[Message] = []  # table writes, as changelog records

    async def commit(self, batches: Sequence[PartitionBatch]) -> None:
        """Publish every batch's outputs, then its writes, then apply them to the store."""
        if self.refuse is not None:
            raise self.refuse
        at = self.clock()
        sent = [
            m
            for _, e, _ in batches
            for m in outputs(e, self.topics, self.source, at, self.dead_letter_bytes)
        ]
        self._publish(self.published, sent)
        written = [m for p, _, w in batches for m in changelog(self.topics.changelog, p, w)]
        self._publish(self.changelog, written)
        for partition, _, writes in batches:
            self.store.write(partition, writes)

    def on(self, topic: str) -> list[Message]:
        """The outputs published to `topic`, in order."""
        return [m for m in self.published if m[0] == topic]

    def _publish(self, log: list[Message], messages: list[Message]) -> None:
        for topic, key, value, _, _ in messages:
            if len(key or b"") + len(value or b"") > self.max_record_bytes:
                raise RecordTooLarge(f"a record for {topic} is larger than the broker accepts")
        log.extend(messages)
