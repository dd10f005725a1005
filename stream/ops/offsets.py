"""Reading a consumer group's lag from the broker: committed offsets, log ends, record times.

No member of the group needs to run. Committed offsets come from the group coordinator
(aiokafka's admin client), the logs' ends and beginnings from a consumer outside the group,
the age of the oldest unconsumed message from the timestamp of the one record at the
committed offset (fetched with that consumer), and commit times from `__consumer_offsets`
(`stream.ops.commit_log`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TypeVar

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from stream.ops.commit_log import OFFSETS_TOPIC, CommitLog
from stream.ops.kafka_security import PLAINTEXT, KafkaSecurity
from stream.ops.lag import Reading, Report, Windows, sample

T = TypeVar("T")

REQUEST_TIMEOUT_MS = 10_000  # one request to the broker; past it, the broker is unreachable
RETRY_FOR_S = 15.0  # a fresh cluster's group coordinator takes a few seconds to appear
RECORD_WAIT_S = 5.0  # longest wait for the records at the committed offsets
FETCH_BYTES = 64 * 1024  # per partition: only one record is wanted (a batch comes whole)


class OffsetReader:
    """Reads the lag of consumer group `group` on the broker at `bootstrap`."""

    def __init__(
        self,
        bootstrap: str,
        group: str,
        *,
        lookback_ms: int,
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        self.group = group
        secured = security.client_options()
        self._admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=REQUEST_TIMEOUT_MS, **secured
        )
        self._records = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            # A committed offset the log no longer holds (retention) reads its first record.
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=FETCH_BYTES,
            request_timeout_ms=REQUEST_TIMEOUT_MS,
            **secured,
        )
        self._commits = CommitLog(bootstrap, group, lookback_ms, security)

    async def start(self) -> None:
        """Connect. Call `close` afterwards even if this raises."""
        await self._admin.start()
        await self._records.start()
        await self._commits.start()

    async def close(self) -> None:
        """Disconnect (each client, also one that never connected, so none is left open)."""
        await self._commits.stop()
        await self._records.stop()
        await self._admin.close()

    async def partitions(self, topics: Iterable[str]) -> list[TopicPartition]:
        """Every partition of those of `topics` that exist, in order.

        Asks for every topic's metadata: asking for one that does not exist would make a
        broker with `auto.create.topics.enable` create it, with its default partitions.
        """
        wanted = set(topics)
        found = [
            TopicPartition(topic["topic"], part["partition"])
            for topic in await self._admin.describe_topics(None)
            if topic["topic"] in wanted and topic["error_code"] == 0
            for part in topic["partitions"]
        ]
        return sorted(found)

    async def read(self, tps: list[TopicPartition], now_ms: int) -> list[Reading]:
        """One reading of each of `tps`; commits are followed from `lookback_ms` before the
        first reading's `now_ms` on."""
        if not self._commits.following:  # `__consumer_offsets` appears with the first commit
            offsets = await self.partitions([OFFSETS_TOPIC])
            await self._commits.follow(now_ms, len(offsets))
        if not tps:
            return []
        committed = await _retrying(
            lambda: self._admin.list_consumer_group_offsets(self.group, partitions=tps)
        )
        starts = await self._records.beginning_offsets(tps)
        ends = await self._records.end_offsets(tps)
        commits = await self._commits.last_commits()
        positions: dict[TopicPartition, int | None] = {}
        for tp in tps:
            found = committed.get(tp)
            positions[tp] = found.offset if found is not None and found.offset >= 0 else None
        behind = {
            tp: starts[tp] if at is None else at
            for tp, at in positions.items()
            if ends[tp] > (starts[tp] if at is None else at)
        }
        oldest, markers_only = await self._oldest(behind, ends)
        return [
            Reading(
                tp.topic,
                tp.partition,
                positions[tp],
                starts[tp],
                ends[tp],
                oldest.get(tp),
                commits.get((tp.topic, tp.partition)),
                tp in markers_only,
            )
            for tp in tps
        ]

    async def _oldest(
        self, positions: Mapping[TopicPartition, int], ends: Mapping[TopicPartition, int]
    ) -> tuple[dict[TopicPartition, int], set[TopicPartition]]:
        """The timestamp (ms) of the first record at or after each position, where one is;
        and the partitions whose remaining offsets hold only transaction markers."""
        found: dict[TopicPartition, int] = {}
        markers_only: set[TopicPartition] = set()
        if not positions:
            return found, markers_only
        consumer = self._records
        consumer.assign(list(positions))
        for tp, at in positions.items():
            consumer.seek(tp, at)
        pending = set(positions)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RECORD_WAIT_S
        while pending and loop.time() < deadline:
            got = await consumer.getmany(*pending, timeout_ms=200, max_records=len(pending))
            for tp, records in got.items():
                first = next((r for r in records if r.offset >= positions[tp]), None)
                if first is not None and tp in pending:
                    found[tp] = first.timestamp
                    pending.discard(tp)
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    markers_only.add(tp)
                    pending.discard(tp)
        return found, markers_only


async def take_sample(
    reader: OffsetReader, tps: list[TopicPartition], windows: Windows, now_ms: Callable[[], int]
) -> Report:
    """Read each of `tps` once, add the samples to `windows` (forgetting any other
    partition), and report."""
    readings = await reader.read(tps, now_ms())
    at = now_ms()
    for reading in readings:
        windows.add((reading.topic, reading.partition), sample(reading, at))
    windows.keep((tp.topic, tp.partition) for tp in tps)
    return Report.of(reader.group, at, windows)


async def _retrying(call: Callable[[], Awaitable[T]]) -> T:
    """`call()`, again after a short pause while it fails with an error Kafka calls
    retriable (a coordinator being elected, a leader moving), for up to `RETRY_FOR_S`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RETRY_FOR_S
    while True:
        try:
            return await call()
        except KafkaError as error:
            if not error.retriable or loop.time() > deadline:
                raise
        await asyncio.sleep(0.2)  # back off before asking again
