"""Making batches durable in order, one in flight while the next is applied.

A batch's flush runs as a task while the agent takes and applies the next batch; batches
become durable (and are acknowledged) strictly in order, and the next flush starts only once
the previous one completed. A flush that fails calls `fail` (stop the worker) before anything
after it can be acknowledged or committed.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence

from stream.app.ports import ChangeSink, Clock, Metrics, PartitionBatch

OnDurable = Callable[[], Awaitable[None]]  # acknowledges a batch's input events


class Flusher:
    """Sends batches through a `ChangeSink`, acknowledging each once it is durable."""

    def __init__(
        self, sink: ChangeSink, metrics: Metrics, fail: Callable[[str], None], clock: Clock
    ) -> None:
        self.sink = sink
        self.metrics = metrics
        self.clock = clock  # stamps when a batch became durable, for the latency metric
        self.fail = fail  # called inside `except` on an unexpected error
        # The previous batch's flush, still in flight while the next batch is applied.
        self._flushing: asyncio.Task[None] | None = None

    async def start(self, batches: Sequence[PartitionBatch], on_durable: OnDurable) -> None:
        """Wait for the flush in flight, then flush `batches` in the background."""
        await self.settle()
        self._flushing = asyncio.create_task(self.flush(batches, on_durable))

    async def settle(self) -> None:
        """Wait until the batch in flight is durable; its failure is raised here."""
        flushing, self._flushing = self._flushing, None
        if flushing is not None:
            await flushing

    async def flush(
        self, batches: Sequence[PartitionBatch], on_durable: OnDurable | None = None
    ) -> None:
        """Make `batches` durable now, then run `on_durable`; on any failure, `fail`."""
        started = time.perf_counter()
        try:
            await self.sink.commit(batches)
            if on_durable is not None:
                await on_durable()
        except asyncio.CancelledError:
            raise
        except Exception:
            self.fail("making a batch durable failed")
            raise
        took = time.perf_counter() - started
        self.metrics.observe("segstream_batch_duration_seconds", took, phase="flush")
        record_published(self.metrics, batches, self.clock() / 1_000_000)


def record_published(metrics: Metrics, batches: Sequence[PartitionBatch], now_s: float) -> None:
    """Count what durable `batches` published, and how late, as of `now_s` (epoch seconds)."""
    changes: Counter[tuple[str, str]] = Counter()
    dead: Counter[str] = Counter()
    for _, effects, _ in batches:
        metrics.add("changes_out", len(effects.changes))
        metrics.add("dead_letters_out", len(effects.dead_letters))
        changes.update((c.kind, c.reason) for c in effects.changes)
        dead.update(d.reason for d in effects.dead_letters)
        for stamp, caused in effects.caused:
            for _ in range(caused):  # one observation per change, as a consumer sees them
                metrics.observe("segstream_event_to_change_seconds", max(0.0, now_s - stamp))
        for late in effects.late_us:
            metrics.observe("segstream_deadline_lateness_seconds", late / 1_000_000)
    for (kind, reason), n in changes.items():
        metrics.count("segstream_changes_total", n, kind=kind, reason=reason)
    for reason, n in dead.items():
        metrics.count("segstream_dead_letters_total", n, reason=reason)
