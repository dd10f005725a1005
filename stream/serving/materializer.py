"""The materialiser: segment-changes into Redis, offsets stored with the changes they cover.

A plain aiokafka consumer with partitions assigned by hand (no consumer group, no Kafka offset
commits): Redis holds the only offsets, written in the same Lua step as the changes, so a
restart resumes exactly after the last step Redis has. Why not Faust: nothing here is
stateful stream processing, and Faust commits offsets to Kafka on its own schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord, TopicPartition
from redis.exceptions import OutOfMemoryError

from stream.errors import InvalidInput
from stream.ops.kafka_security import PLAINTEXT, KafkaSecurity
from stream.serving.changes import change_args
from stream.serving.connection import UNAVAILABLE, RedisState, connect, redact
from stream.serving.store import Store
from stream.serving.topic import partition_count

log = logging.getLogger(__name__)
T = TypeVar("T")

BACKOFF_FIRST_S = 0.1
BACKOFF_MAX_S = 5.0
PARTITION_CHECK_S = 30.0  # how often to look for partitions added to the topic
# Redis full (maxmemory) is an outage too: wait for room rather than skip input.
RETRYABLE: tuple[type[Exception], ...] = (*UNAVAILABLE, OutOfMemoryError)


class _Stopped(Exception):
    """Asked to stop while waiting for Redis."""


@dataclass(frozen=True, slots=True)
class MaterializerConfig:
    """Where the materialiser reads and writes."""

    bootstrap: str
    topic: str
    redis_url: str = field(repr=False)  # may hold the password
    namespace: str
    batch_size: int = 1000  # most changes per atomic step (Redis runs nothing else meanwhile)
    status_file: Path | None = None  # rewritten every second while the loop runs
    kafka: KafkaSecurity = PLAINTEXT
    redis_ca_file: Path | None = None  # trusted for a rediss:// URL
    goals: str = ""  # the segments that keep lift records (serving.lift.goal_spec)


class Materializer:
    """Consumes the change topic and applies it to one namespace of served memberships."""

    def __init__(self, config: MaterializerConfig) -> None:
        self.config = config
        self.redis_state = RedisState(config.redis_url)
        self.store: Store | None = None
        self.consumer: AIOKafkaConsumer | None = None
        self.stored: dict[int, int] = {}  # partition -> offset Redis has, as far as we know
        self.partitions = 0
        self._beat = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        """Materialise until `stop` is set."""
        config = self.config
        try:
            self.store = await self._retry(stop, self._connect)
        except _Stopped:
            return
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=config.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",  # a transactional worker's aborted writes: never
            max_partition_fetch_bytes=4 * 1024 * 1024,
            **config.kafka.client_options(),
        )
        await self.consumer.start()
        try:
            await self._assign(stop)
            await self._consume(stop)
        except _Stopped:
            pass
        finally:
            await self.consumer.stop()
            await self.store.aclose()

    async def _connect(self) -> Store:
        client = await connect(self.config.redis_url, self.config.redis_ca_file)
        return Store(client, self.config.namespace)

    async def _assign(self, stop: asyncio.Event) -> None:
        """Assign every partition of the topic (waiting for it to exist), then resume."""
        assert self.consumer is not None and self.store is not None
        waiting = False
        while not stop.is_set():
            count = await partition_count(
                self.config.bootstrap, self.config.topic, self.config.kafka
            )
            if count:
                break
            if not waiting:
                waiting = True
                log.warning("topic %s does not exist yet; waiting for it", self.config.topic)
            await _wait(stop, 1.0)
        else:
            raise _Stopped
        self.partitions = count
        self.consumer.assign([TopicPartition(self.config.topic, p) for p in range(count)])
        store = self.store
        await self._retry(stop, lambda: store.write_meta(self.config.topic, self.partitions))
        await self._resume(stop)

    async def _resume(self, stop: asyncio.Event) -> None:
        """Seek every partition to just after the offset Redis has (or to its beginning)."""
        assert self.consumer is not None and self.store is not None
        store = self.store
        stored = await self._retry(stop, lambda: store.offsets(self.partitions))
        self.stored = dict(stored)
        for p in range(self.partitions):
            tp = TopicPartition(self.config.topic, p)
            if p in stored:
                self.consumer.seek(tp, stored[p] + 1)
            else:
                await self.consumer.seek_to_beginning(tp)
        log.info(
            "materialising %s (%d partitions) into %s, namespace %s, from offsets %s",
            self.config.topic, self.partitions, redact(self.config.redis_url),
            self.config.namespace, stored or "(none: from the beginning)",
        )  # fmt: skip

    async def _consume(self, stop: asyncio.Event) -> None:
        assert self.consumer is not None
        checked = time.monotonic()
        while not stop.is_set():
            self._heartbeat()
            batches = await self.consumer.getmany(timeout_ms=200)
            steps = [self._apply_partition(tp.partition, rs, stop) for tp, rs in batches.items()]
            results = await asyncio.gather(*steps)
            if not all(results):
                log.warning("Redis has less than this materialiser wrote; resuming from it")
                await self._resume(stop)
            if time.monotonic() - checked > PARTITION_CHECK_S:
                checked = time.monotonic()
                found = await partition_count(
                    self.config.bootstrap, self.config.topic, self.config.kafka
                )
                if found > self.partitions:
                    log.info("topic %s gained partitions; reassigning", self.config.topic)
                    await self._assign(stop)

    async def _apply_partition(
        self, partition: int, records: Sequence[ConsumerRecord[bytes, bytes]], stop: asyncio.Event
    ) -> bool:
        """Apply one partition's records in steps of at most `batch_size`; False: resync."""
        size = self.config.batch_size
        for start in range(0, len(records), size):
            chunk = records[start : start + size]
            args: list[str] = []
            invalid = 0
            for record in chunk:
                try:
                    args.extend(change_args(record.value))
                except InvalidInput as error:
                    invalid += 1
                    log.warning(
                        "skipping change message at %s[%d]@%d: %s",
                        record.topic, partition, record.offset, error,
                    )  # fmt: skip
            last = chunk[-1].offset
            expected = self.stored.get(partition, -1)
            store = self.store
            assert store is not None
            step = functools.partial(
                store.apply, partition, last, invalid, expected, args, self.config.goals
            )
            applied = await self._retry(stop, step)
            if applied is None:
                return False
            self.stored[partition] = last
            for contact, seq, before in applied.gaps:
                log.warning(
                    "gap: contact %s went from seq %d to %d in partition %d; %d change(s) lost "
                    "upstream, listed by GET /v1/gaps", contact, before, seq, partition,
                    seq - before - 1,
                )  # fmt: skip
        return True

    async def _retry(self, stop: asyncio.Event, step: Callable[[], Awaitable[T]]) -> T:
        """Run `step` until Redis answers it; _Stopped if `stop` is set first."""
        delay = BACKOFF_FIRST_S
        while not stop.is_set():
            try:
                result = await step()
            except RETRYABLE as error:
                self.redis_state.down(error)
                self._heartbeat()
            else:
                self.redis_state.up()
                return result
            await _wait(stop, delay)
            delay = min(delay * 2, BACKOFF_MAX_S)
        raise _Stopped

    def _heartbeat(self) -> None:
        """Rewrite the status file (at most once a second): for health checks."""
        path = self.config.status_file
        now = time.time()
        if path is None or now - self._beat < 1.0:
            return
        self._beat = now
        status = {"at": now, "redis_up": not self.redis_state.is_down, "offsets": self.stored}
        partial = path.with_suffix(".partial")
        partial.write_bytes(orjson.dumps(status, option=orjson.OPT_NON_STR_KEYS))
        partial.replace(path)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less if `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
