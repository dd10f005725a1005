"""Publishing a batch durably: outputs first, then the table writes, each awaited.

Order is the at-least-once argument (docs/worker.md): change messages, dead letters and
re-keyed events are acknowledged by the broker before the states that produced them are
written, and the states before Faust commits the input offsets. A crash at any point makes
the worker redo the batch from the old state, publishing the same changes with the same `seq`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any

from stream.app.codecs import encode_change, encode_dead_letter
from stream.app.processor import Effects
from stream.app.store import PartitionStore


@dataclass(frozen=True, slots=True)
class TopicNames:
    """Where the worker reads and writes."""

    events: str
    repartition: str
    changes: str
    dead_letters: str
    changelog: str


def wall_us() -> int:
    """The wall clock in microseconds; read only by `--clock wall` and dead-letter stamps."""
    return time.time_ns() // 1000


class Sink:
    """Sends a batch's effects and table writes through the app's producer."""

    def __init__(
        self,
        app: Any,
        table: Any,
        store: PartitionStore,
        topics: TopicNames,
        source: str,
    ) -> None:
        self._app = app
        self._table = table
        self._store = store
        self._topics = topics
        self._source = source

    def _transaction(self, partition: int) -> str | None:
        """The transactional id Faust commits partition `partition`'s offsets under."""
        app = self._app
        if not app.in_transaction:
            return None
        group = app.assignor.group_for_topic(self._topics.events)
        return f"{app.conf.id}-{group}-{partition}"

    async def publish(self, partition: int, effects: Effects) -> None:
        """Send every output of a batch read from `partition` and wait for the broker."""
        producer = self._app.producer
        tid = self._transaction(partition)
        topics = self._topics
        pending: list[Awaitable[Any]] = []
        for change in effects.changes:
            key, value, headers = encode_change(change, self._source)
            pending.append(
                await producer.send(
                    topics.changes, key, value, None, None, headers, transactional_id=tid
                )
            )
        if effects.dead_letters:
            at = wall_us()
            for dead in effects.dead_letters:
                record = dead.record
                envelope = encode_dead_letter(
                    reason=dead.reason,
                    detail=dead.detail,
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    original=record.value,
                    at_us=at,
                )
                pending.append(
                    await producer.send(
                        topics.dead_letters,
                        record.key,
                        envelope,
                        None,
                        None,
                        None,
                        transactional_id=tid,
                    )
                )
        for key, value in effects.rekeyed:
            pending.append(
                await producer.send(
                    topics.repartition, key, value, None, None, None, transactional_id=tid
                )
            )
        await _all(pending)

    async def write(self, partition: int, writes: Sequence[tuple[bytes, bytes | None]]) -> None:
        """Apply table writes locally and to the changelog, and wait for the broker."""
        if not writes:
            return
        producer = self._app.producer
        tid = self._transaction(partition)
        changelog = self._topics.changelog
        put = self._store.put
        pending: list[Awaitable[Any]] = []
        for key, value in writes:
            put(partition, key, value)
            pending.append(
                await producer.send(
                    changelog, key, value, partition, None, None, transactional_id=tid
                )
            )
        results = await _all(pending)
        last = results[-1]
        store = self._table.data
        if self._app.in_transaction:
            self._app.tables.persist_offset_on_commit(store, last.topic_partition, last.offset)
        else:
            store.set_persisted_offset(last.topic_partition, last.offset)


async def _all(pending: list[Awaitable[Any]]) -> list[Any]:
    """Wait for every send; the first failure propagates (and crashes the worker)."""
    if not pending:
        return []
    return list(await asyncio.gather(*pending))
