"""Publishing a batch durably: outputs first, then the table writes, each awaited.

Order is the at-least-once argument (docs/worker.md): change messages, dead letters and
re-keyed events are acknowledged by the broker before the states that produced them are
written, and the states before Faust commits the input offsets. A crash at any point makes
the worker redo the batch from the old state, publishing the same changes with the same `seq`.
With exactly-once, a batch's outputs and writes all go in its partition's transaction instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.structs import TopicPartition

from stream.app.batches import Message, send_batched
from stream.app.codecs import encode_change, encode_dead_letter
from stream.app.processor import Effects
from stream.app.store import PartitionStore, Writes


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


PartitionBatch = tuple[int, Effects, Writes]  # input partition, what it caused, table writes


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

    async def commit(self, batches: Sequence[PartitionBatch]) -> None:
        """Make batches read from several partitions durable: all their outputs, then all
        their table writes, each step in one round of record batches rather than one per
        partition."""
        transact = self._app.in_transaction
        if transact:
            # One transaction per input partition; they are independent, so send them at once.
            sent = await asyncio.gather(
                *(
                    self._transact(p, [*self._outputs(e), *self._changelog(p, w)])
                    for p, e, w in batches
                )
            )
            results = {tp: offset for found in sent for tp, offset in found.items()}
        else:
            await self._send([m for _, effects, _ in batches for m in self._outputs(effects)])
            results = await self._send([m for p, _, w in batches for m in self._changelog(p, w)])
        for partition, _, writes in batches:
            self._apply_locally(partition, writes)
            # Only once the writes are in the local store: a store whose persisted offset is
            # ahead of its contents is taken as up to date by Faust's recovery and never
            # catches up.
            self._persisted(partition, results, on_commit=transact)

    def _outputs(self, effects: Effects) -> list[Message]:
        topics = self._topics
        messages: list[Message] = []
        for change in effects.changes:
            key, value, headers = encode_change(change, self._source)
            messages.append((topics.changes, key, value, None, headers))
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
            messages.append((topics.dead_letters, record.key, envelope, None, None))
        for key, value in effects.rekeyed:
            messages.append((topics.repartition, key, value, None, None))
        return messages

    def _changelog(self, partition: int, writes: Writes) -> list[Message]:
        changelog = self._topics.changelog
        return [(changelog, key, value, partition, None) for key, value in writes]

    async def _send(self, messages: list[Message]) -> dict[TopicPartition, int]:
        """At-least-once: send and wait for every acknowledgement."""
        return await send_batched(self._app.producer._ensure_producer(), messages)

    async def _transact(self, partition: int, messages: list[Message]) -> dict[TopicPartition, int]:
        """Exactly-once: every message of a batch in the partition's open transaction.

        Faust commits a partition's transaction from a timer, concurrently with the agent,
        under a per-transaction lock. Holding that lock from the first send to the last
        acknowledgement keeps a commit from splitting a batch between two transactions
        (faust's own `send` takes the lock per message, which does not).
        """
        app = self._app
        group = app.assignor.group_for_topic(self._topics.events)
        tid = f"{app.conf.id}-{group}-{partition}"
        producer = app.producer
        txp = producer._transaction_producers[tid]
        async with producer._trn_locks[tid]:
            return await send_batched(txp, messages)

    def _persisted(
        self, partition: int, results: dict[TopicPartition, int], *, on_commit: bool
    ) -> None:
        """Tell the store how far the changelog is written, so a restart reads only the rest."""
        tp = TopicPartition(self._topics.changelog, partition)
        offset = results.get(tp)
        if offset is None:
            return
        if on_commit:
            self._app.tables.persist_offset_on_commit(self._table.data, tp, offset)
        else:
            self._table.data.set_persisted_offset(tp, offset)

    def _apply_locally(self, partition: int, writes: Writes) -> None:
        # Only after the broker acknowledged them: the local store must never hold what the
        # changelog may lack, or a restart here and a restore elsewhere would disagree.
        self._store.write(partition, writes)
