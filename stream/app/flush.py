"""Making batches durable in order, one in flight while the next is applied.

A batch's flush runs as a task while the agent takes and applies the next batch; batches
become durable (and are acknowledged) strictly in order, and the next flush starts only once
the previous one completed. A flush that fails calls `fail` (stop the worker) before anything
after it can be acknowledged or committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from stream.app.ports import ChangeSink, Metrics, PartitionBatch

OnDurable = Callable[[], Awaitable[None]]  # acknowledges a batch's input events


class Flusher:
    """Sends batches through a `ChangeSink`, acknowledging each once it is durable."""

    def __init__(self, sink: ChangeSink, metrics: Metrics, fail: Callable[[str], None]) -> None:
        self.sink = sink
        self.metrics = metrics
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
            self.metrics.add("changes_out", len(effects.changes))
            self.metrics.add("dead_letters_out", len(effects.dead_letters))
