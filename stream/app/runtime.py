"""The worker's batches and ticks of the clock, serialised under one lock and made durable.

Per batch: records go to their partition's `Partition`, due deadlines fire, the outputs are
published and acknowledged, then the states are written (`Flusher`, through the change sink);
only then is the batch acknowledged and may Faust commit its offsets. A tick does the same
for deadlines with no new input.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from stream.app.assignment import Assignment
from stream.app.flush import Flusher, OnDurable
from stream.app.partitions import Partitions
from stream.app.ports import ChangeSink, Clock, Metrics, PartitionBatch, PartitionStore
from stream.app.processor import Effects, Partition, Policy, Record
from stream.app.progress import Progress
from stream.app.status_report import StatusReport
from stream.app.topics import OutputTopics
from stream.core.evaluation.engine import Engine

YIELD_EVERY = 200  # events applied between two returns to the event loop


class Runtime:
    """The partitions this worker owns and the lock that serialises their batches."""

    def __init__(
        self,
        engine: Engine,
        policy: Policy,
        *,
        store: PartitionStore,
        sink: ChangeSink,
        clock: Clock,
        metrics: Metrics,
        fail: Callable[[str], None],
        assignment: Assignment,
        outputs: OutputTopics,
        status_path: Path | None = None,
        progress: Progress | None = None,
        place: Callable[[Partition], None] | None = None,
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.metrics = metrics
        self.fail = fail  # called inside `except` on an unexpected error
        self.assignment = assignment
        self.outputs = outputs
        self.partitions = Partitions(engine, store, policy, place)
        self.flusher = Flusher(sink, metrics, fail, clock)
        self.report = StatusReport(status_path, self.partitions, metrics, clock)
        self.progress = progress
        self.lock = asyncio.Lock()
        # Set whenever a partition switched versions: a batch for a partition whose switch
        # was begun before a crash waits for it (`Partition.switching`).
        self.switched = asyncio.Event()

    async def process(self, events: Sequence[Any], on_durable: OnDurable) -> None:
        """Apply one batch of Faust events; `on_durable` runs once everything it caused is.

        The batch is made durable in the background while the caller takes and applies the
        next one; batches become durable (and are acknowledged) strictly in order, and at
        most one is in flight while another is applied.
        """
        by_partition: dict[int, list[Record]] = defaultdict(list)
        for event in events:
            message = event.message
            by_partition[message.partition].append(
                Record(
                    message.topic, message.partition, message.offset, message.key,
                    message.value, message.timestamp,
                )
            )  # fmt: skip
        for number in by_partition:
            while self.partitions.get(number).switching is not None:
                self.switched.clear()
                await self.switched.wait()
        async with self.lock:
            await self.outputs.declare()
            started = time.perf_counter()
            done: list[tuple[Partition, Effects]] = []
            for number, records in by_partition.items():
                part = self.partitions.get(number)
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
            batches: list[PartitionBatch] = [(p.partition, e, p.take_writes()) for p, e in done]
            applied = time.perf_counter() - started
            self.metrics.observe("segstream_batch_duration_seconds", applied, phase="apply")
            if self.progress is not None:
                self.progress.took(events, batches)
            await self.flusher.start(batches, on_durable)
            self.metrics.add("events_in", len(events))
        self.report.maybe_write()

    async def settle(self) -> None:
        """Wait until the batch in flight is durable; its failure is raised here."""
        await self.flusher.settle()

    async def tick(self) -> None:
        """Load newly owned partitions; with the wall clock, fire their due deadlines."""
        if not self.assignment.settled():
            return
        async with self.lock:
            await self.outputs.declare()
            await self.settle()
            for number in self.assignment.owned():
                part = self.partitions.get(number)  # restores an idle partition's deadlines too
                if self.policy.clock != "wall" or part.switching is not None:
                    continue
                now = part.now(self.clock)
                due = part.next_deadline()
                if now is None or due is None or due > now:
                    continue
                effects = Effects()
                part.sweep(now, effects)
                await self.flusher.flush([(part.partition, effects, part.take_writes())])
        self.report.maybe_write()

    async def revoke(self, revoked: Iterable[Any]) -> None:
        """Forget partitions another worker may now own; they are reloaded if they return."""
        self.assignment.revoked()
        self.metrics.count("segstream_rebalances_total")
        async with self.lock:
            await self.settle()  # acknowledge what is durable before Faust commits offsets
            self.partitions.drop(self.assignment.inputs(revoked))
        self.report.maybe_write(force=True)

    def mark_restored(self) -> None:
        """Faust has restored the table for the new assignment: partitions may load again."""
        self.assignment.mark_restored()
