"""The worker's agent, timers and rebalance hooks on the Faust app, and its stop on a bug.

The agent hands each batch of input records to `Runtime.process`, the `deadlines` timer
calls `Runtime.tick`; an unexpected error in either stops the process (`stop_now`).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from typing import Any, NoReturn

from stream.app.factory import WorkerApp
from stream.app.retry_log import RETRIES
from stream.app.runtime import Runtime
from stream.app.status_report import STATUS_EVERY_S

log = logging.getLogger(__name__)

EXIT_FAILED = 70  # the worker stopped itself after an unexpected error (EX_SOFTWARE)
TICK_SECONDS = 0.2  # deadlines fire within this (plus a batch) of their instant


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


def install(wapp: WorkerApp, runtime: Runtime, batch_size: int, batch_wait_s: float) -> None:
    """Register the agent, the timers and the rebalance hooks on the app."""
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
        runtime.mark_restored()

    # Sent once the tables are restored for a new assignment, before streams resume.
    app.on_rebalance_complete.connect(on_restored, weak=False)

    async def status_heartbeat() -> None:
        runtime.report.maybe_write()
        RETRIES.flush()  # a retried error that stopped repeating gets its one closing line

    app.timer(STATUS_EVERY_S, name="status")(status_heartbeat)
