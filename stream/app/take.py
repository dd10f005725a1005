"""Taking a stream's events in batches that end as soon as nothing more is queued.

Faust's `Stream.noack_take(max_, within)` yields a batch only when it holds `max_` events or
`within` has passed since it began waiting: fed lightly, every event waits out `within`,
then a flush. `eager_take` is the same generator (Faust 0.15.3's, copied) with one change:
a batch also ends once the stream's queue is empty, so a light input is applied at once,
and a heavy one still fills whole batches, since its queue is not empty. Events arriving
while a batch is applied and flushed queue up and make the next batch; `within` stays the
longest an event waits for others.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from mode.utils.futures import notify

from stream.app import faust_private


async def eager_take(stream: Any, max_: int, within: float) -> AsyncIterator[list[Any]]:
    """Batches of at most `max_` unacknowledged events of `stream`, each yielded once the
    stream's queue is empty, it is full, or `within` seconds passed (acknowledging is the
    caller's: `stream.ack(event)`)."""
    buffer: list[Any] = []
    buffer_full = asyncio.Event()  # set when a batch is ready: full, or nothing more queued
    buffer_consumed = asyncio.Event()
    buffer_consuming: asyncio.Future[None] | None = None
    channel_it = aiter(stream.channel)
    queue = stream.channel.queue

    async def add_to_buffer(value: Any) -> Any:
        nonlocal buffer_consuming
        try:
            if buffer_consuming is not None:
                # A batch is being applied: nothing joins it, the next one waits here.
                try:
                    await buffer_consuming
                finally:
                    buffer_consuming = None
            event = stream.current_event
            if event is None:
                raise RuntimeError("Take buffer found current_event is None")
            buffer.append(event)
            if len(buffer) >= max_:
                buffer_full.set()
                # Strict: a batch never holds more than `max_`.
                buffer_consumed.clear()
                await stream.wait(buffer_consumed)
            elif queue.empty():
                buffer_full.set()  # ready, but not full: more may join until it is taken
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            stream.log.exception("Error adding to take buffer: %r", exc)
            await stream.crash(exc)
        return value

    enable_acks, stream.enable_acks = stream.enable_acks, False  # the caller acknowledges
    stream.add_processor(add_to_buffer)
    faust_private.enable_passive(stream, channel_it)
    try:
        while not stream.should_stop:
            await stream.wait_for_stopped(buffer_full, timeout=within)
            if buffer:
                # The passive reader must not add to the batch while it is applied.
                buffer_consuming = stream.loop.create_future()
                try:
                    yield list(buffer)
                finally:
                    buffer.clear()
                    notify(buffer_consuming)
                    buffer_full.clear()
                    buffer_consumed.set()
    finally:
        stream.enable_acks = enable_acks
        faust_private.remove_processor(stream, add_to_buffer)
