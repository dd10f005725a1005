"""Publishing a batch durably to Kafka: outputs first, then the table writes, each awaited.

Order is the at-least-once argument (docs/worker.md): change messages, dead letters and
re-keyed events are acknowledged by the broker before the states that produced them are
written, and the states before Faust commits the input offsets. A crash at any point makes
the worker redo the batch from the old state, publishing the same changes with the same `seq`.
With exactly-once, a batch's outputs and writes all go in its partition's transaction instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka.structs import TopicPartition

from stream.app import faust_private
from stream.app.batches import send_batched
from stream.app.codecs import MAX_DEAD_LETTER_BYTES
from stream.app.outputs import Message, changelog, outputs
from stream.app.ports import Clock, PartitionBatch, PartitionStore, Writes
from stream.app.processor import Effects
from stream.app.topics import TopicNames


class KafkaSink:
    """The `ChangeSink` of the worker: a batch's effects and table writes through the app's
    producer, then the writes into the local store."""

    def __init__(
        self,
        app: Any,
        table: Any,
        store: PartitionStore,
        topics: TopicNames,
        *,
        source: str,
        clock: Clock,
        dead_letter_bytes: int = MAX_DEAD_LETTER_BYTES,
    ) -> None:
        self._app = app
        self._table = table
        self._store = store
        self._topics = topics
        self._source = source
        self._clock = clock  # stamps dead letters
        self._dead_letter_bytes = dead_letter_bytes

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
            # Only after the broker acknowledged them: the local store must never hold what
            # the changelog may lack, or a restart here and a restore elsewhere would disagree.
            self._store.write(partition, writes)
            # Only once the writes are in the local store: a store whose persisted offset is
            # ahead of its contents is taken as up to date by Faust's recovery and never
            # catches up.
            self._persisted(partition, results, on_commit=transact)

    def _outputs(self, effects: Effects) -> list[Message]:
        return outputs(effects, self._topics, self._source, self._clock(), self._dead_letter_bytes)

    def _changelog(self, partition: int, writes: Writes) -> list[Message]:
        return changelog(self._topics.changelog, partition, writes)

    async def _send(self, messages: list[Message]) -> dict[TopicPartition, int]:
        """At-least-once: send and wait for every acknowledgement."""
        return await send_batched(faust_private.producer(self._app), messages)

    async def _transact(self, partition: int, messages: list[Message]) -> dict[TopicPartition, int]:
        """Exactly-once: every message of a batch in the partition's open transaction.

        Faust commits a partition's transaction from a timer, concurrently with the agent,
        under a per-transaction lock. Holding that lock from the first send to the last
        acknowledgement keeps a commit from splitting a batch between two transactions
        (faust's own `send` takes the lock per message, which does not).
        """
        producer, lock = faust_private.transaction(self._app, self._topics.events, partition)
        async with lock:
            return await send_batched(producer, messages)

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
