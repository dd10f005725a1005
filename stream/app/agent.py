"""The worker's agent and timer: batches of input records and ticks of the clock, made durable.

Per batch: records go to their partition's `Partition`, due deadlines fire, the outputs are
published and acknowledged, then the states are written; only then does the batch return and
Faust may commit its offsets. The timer does the same for deadlines with no new input.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import orjson

from stream.app.factory import WorkerApp
from stream.app.processor import Effects, Partition, Policy, Record
from stream.app.sink import PartitionBatch, Sink, wall_us
from stream.app.store import FaustStore
from stream.core.engine import Engine
from stream.ops import metrics

log = logging.getLogger(__name__)

EXIT_FAILED = 70  # the worker stopped itself after an unexpected error (EX_SOFTWARE)
TICK_SECONDS = 0.2  # deadlines fire within this (plus a batch) of their instant
STATUS_EVERY_S = 0.5
YIELD_EVERY = 200  # events applied between two returns to the event loop


def stop_now(what: str) -> NoReturn:
    """Stop the process at once, as kill -9 would, after logging the current exception.

    An unexpected error (a bug, or the broker refusing writes past every retry) must not
    let Faust carry on: it restarts a failed agent but acks and commits the events it
    consumed meanwhile without the agent seeing them (docs/worker.md), a loss. Stopping
    before any further commit leaves every unapplied event to be read again by the restarted
    worker, as after a crash. Bad input never gets here: it is dead-lettered.
    """
    message = "%s; stopping the worker (exit %d) so that nothing is lost"
    log.critical(message, what, EXIT_FAILED, exc_info=True)
    logging.shutdown()
    os._exit(EXIT_FAILED)


class Runtime:
    """The partitions this worker owns and the lock that serialises their batches."""

    def __init__(
        self,
        wapp: WorkerApp,
        engine: Engine,
        policy: Policy,
        *,
        source: str,
        status_path: Path | None = None,
        clock: Callable[[], int] = wall_us,
        fail: Callable[[str], None] = stop_now,
    ) -> None:
        self.wapp = wapp
        self.engine = engine
        self.policy = policy
        self.store = FaustStore(wapp.table)
        self.sink = Sink(wapp.app, wapp.table, self.store, wapp.topics, source)
        self.partitions: dict[int, Partition] = {}
        self.lock = asyncio.Lock()
        self.clock = clock
        self.fail = fail  # called inside `except` on an unexpected error; stop_now by default
        self.status_path = status_path
        self._declared = False
        self._status_at = 0.0
        # The previous batch's flush, still in flight while the next batch is applied.
        self._flushing: asyncio.Task[None] | None = None
        # False from a revocation until Faust has restored the table for the new assignment:
        # a Partition loaded before that would start from an empty store.
        self.restored = False

    def partition(self, number: int) -> Partition:
        found = self.partitions.get(number)
        if found is None:
            found = self.partitions[number] = Partition(
                number, self.engine, self.store, self.policy
            )
            log.info(
                "partition %d: watermark %s, %d pending deadlines",
                number,
                found.watermark,
                found.pending_deadlines,
            )
        return found

    async def declare(self) -> None:
        """Create missing output topics with the configured partitions, once."""
        if not self._declared:
            for topic in self.wapp.outputs:
                await topic.maybe_declare()
            self._declared = True

    async def process(
        self, events: Sequence[Any], on_durable: Callable[[], Awaitable[None]]
    ) -> None:
        """Apply one batch of Faust events; `on_durable` runs once everything it caused is.

        The batch is made durable in the background while the caller takes and applies the
        next one; batches become durable (and are acknowledged) strictly in order, and at
        most one is in flight while another is applied.
        """
        by_partition: dict[int, list[Record]] = defaultdict(list)
        for event in events:
            message = event.message
            by_partition[message.partition].append(
                Record(message.topic, message.partition, message.offset, message.key, message.value)
            )
        async with self.lock:
            await self.declare()
            done: list[tuple[Partition, Effects]] = []
            for number, records in by_partition.items():
                part = self.partition(number)
                effects = Effects()
                for i, record in enumerate(records, start=1):
                    part.handle(record, self.clock, effects)
                    if i % YIELD_EVERY == 0:
                        await asyncio.sleep(0)  # let heartbeats and fetches run
                now = part.now(self.clock)
                if now is not None:
                    part.sweep(now, effects)
                done.append((part, effects))
            # The writes are taken now, before the next batch changes any cached state.
            batches = [(part.partition, e, part.take_writes()) for part, e in done]
            await self.settle()
            self._flushing = asyncio.create_task(self._flush(batches, on_durable))
            metrics.add(metrics.EVENTS_IN, len(events))
        self._maybe_status()

    async def settle(self) -> None:
        """Wait until the batch in flight is durable; its failure is raised here."""
        flushing, self._flushing = self._flushing, None
        if flushing is not None:
            await flushing

    async def tick(self) -> None:
        """Load newly owned partitions; with the wall clock, fire their due deadlines."""
        app = self.wapp.app
        if not self.restored or app.rebalancing or app.in_recovery:
            return
        async with self.lock:
            await self.declare()
            await self.settle()
            for number in self._owned():
                part = self.partition(number)  # restores an idle partition's deadlines too
                if self.policy.clock != "wall":
                    continue
                now = part.now(self.clock)
                due = part.next_deadline()
                if now is None or due is None or due > now:
                    continue
                effects = Effects()
                part.sweep(now, effects)
                await self._flush([(part.partition, effects, part.take_writes())])
        self._maybe_status()

    def _owned(self) -> list[int]:
        topic = self.wapp.topics.events
        return sorted(
            tp.partition for tp in self.wapp.app.assignor.assigned_actives() if tp.topic == topic
        )

    async def _flush(
        self,
        batches: Sequence[PartitionBatch],
        on_durable: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        try:
            await self.sink.commit(batches)
            if on_durable is not None:
                await on_durable()
        except asyncio.CancelledError:
            raise
        except Exception:
            self.fail("making a batch durable failed")
            raise
        for _, effects, _ in batches:
            metrics.add(metrics.CHANGES_OUT, len(effects.changes))
            metrics.add(metrics.DEAD_LETTERS_OUT, len(effects.dead_letters))

    async def revoke(self, revoked: Iterable[Any]) -> None:
        """Forget partitions another worker may now own; they are reloaded if they return."""
        self.restored = False
        async with self.lock:
            await self.settle()  # acknowledge what is durable before Faust commits offsets
            topic = self.wapp.topics.events
            for tp in revoked:
                if tp.topic == topic:
                    self.partitions.pop(tp.partition, None)
        self._maybe_status(force=True)

    def status(self) -> dict[str, Any]:
        """Per owned partition: clock, pending deadlines and how every input message ended."""
        return {
            "pid": os.getpid(),
            "at_us": wall_us(),
            "partitions": {
                str(n): {
                    "watermark": p.watermark,
                    "pending_deadlines": p.pending_deadlines,
                    "counts": {
                        metrics.APPLIED: p.counts.applied,
                        metrics.DUPLICATE: p.counts.duplicate,
                        metrics.DEAD_LETTERED: p.counts.dead_lettered,
                        metrics.REKEYED: p.counts.rekeyed,
                    },
                }
                for n, p in sorted(self.partitions.items())
            },
            "metrics": metrics.snapshot(),
        }

    def _maybe_status(self, *, force: bool = False) -> None:
        path = self.status_path
        if path is None:
            return
        loop_now = asyncio.get_running_loop().time()
        if not force and loop_now - self._status_at < STATUS_EVERY_S:
            return
        self._status_at = loop_now
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(self.status()))
        tmp.replace(path)


def install(wapp: WorkerApp, runtime: Runtime, batch_size: int, batch_wait_s: float) -> None:
    """Register the agent, the timer and the rebalance hook on the app."""
    app = wapp.app

    async def segments(stream: Any) -> None:
        # noack_take, not take_events: take_events acks the batch in a `finally`, so a batch
        # cancelled mid-way (shutdown, rebalance) would be committed without being applied.
        try:
            async for events in stream.noack_take(batch_size, within=batch_wait_s):

                async def acknowledge(batch: Sequence[Any] = events) -> None:
                    for event in batch:
                        await stream.ack(event)

                await runtime.process(events, acknowledge)
        except asyncio.CancelledError:  # a rebalance or shutdown: ack what became durable
            await runtime.settle()
            raise
        except Exception:
            runtime.fail("applying a batch failed")
        await runtime.settle()

    app.agent(wapp.events, name="segments")(segments)

    async def tick() -> None:
        try:
            await runtime.tick()
        except Exception:
            runtime.fail("firing deadlines failed")

    app.timer(TICK_SECONDS, name="deadlines")(tick)

    async def on_revoked(sender: Any, revoked: Any, **_: Any) -> None:
        await runtime.revoke(revoked)

    app.on_partitions_revoked.connect(on_revoked, weak=False)

    async def on_restored(sender: Any, **_: Any) -> None:
        runtime.restored = True

    # Sent once the tables are restored for a new assignment, before streams resume.
    app.on_rebalance_complete.connect(on_restored, weak=False)

    async def status_heartbeat() -> None:
        runtime._maybe_status()

    app.timer(STATUS_EVERY_S, name="status")(status_heartbeat)
