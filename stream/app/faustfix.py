"""Corrections to faust-streaming 0.15.3, and a cheaper hand-off of each fetched record.

Two corrections, without which the worker loses input on rebalances. Both drop records
that the consumer has already moved past, so nothing reads them again: Faust's bookkeeping
then treats the hole like a gap in the log, and the next owner of the partition (or the
promoted standby copy of the table) starts after it. docs/worker.md, "Faust pitfalls met",
has the evidence.

One fast path: Faust hands every fetched record to the streams through `wait_first`, four
tasks and an `asyncio.wait` per record, about a fifth of the worker's CPU. `Consumer`
hands it over directly whenever that takes no waiting, which is nearly always.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator, Set
from typing import Any

import faust
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as driver
from mode.utils.objects import cached_property
from mode.utils.queues import FlowControlEvent


class FlowControl(FlowControlEvent):
    """Faust's flow control into stream queues, except that resuming a running flow keeps them.

    `FlowControlEvent.resume()` empties every stream and changelog queue. Faust's recovery
    calls it while the flow already runs: after resuming the standby changelog partitions,
    and at the end (`Recovery.on_recovery_completed`) after it has resumed the input
    partitions and awaited the seek to the committed offsets. Whatever was fetched meanwhile
    was dropped. Emptying is only meant for a flow that a revocation suspended, which is when
    this still does it.
    """

    def resume(self) -> None:
        if self.is_active():
            return
        super().resume()


class ConsumerThread(driver.AIOKafkaConsumerThread):
    """Fetches only from the partitions Faust has active when the fetch starts.

    Faust hands aiokafka its live set of active partitions, and aiokafka reads an empty set
    as "every assigned partition". When recovery pauses the restored changelog partitions
    while a fetch waits (and nothing else is active yet), the fetch returns records of the
    paused input and standby partitions, which Faust's `getmany` then discards as inactive:
    the positions have moved past them, so they are never delivered.
    """

    async def _fetch_records(
        self,
        consumer: Any,
        active_partitions: Set[Any],
        timeout: float | None = None,
        max_records: int | None = None,
    ) -> Any:
        partitions = set(active_partitions)
        if not partitions:
            return {}
        return await super()._fetch_records(
            consumer, partitions, timeout=timeout, max_records=max_records
        )


class _Suspend:
    """Suspends the awaiting task on what another coroutine yielded: a future, or None."""

    __slots__ = ("yielded",)

    def __init__(self, yielded: Any) -> None:
        self.yielded = yielded

    def __await__(self) -> Generator[Any, None, None]:
        yield self.yielded


async def _finish(step: Coroutine[Any, Any, Any], yielded: Any) -> Any:
    """Run `step`, which has started and is suspended on `yielded`, to its end.

    This does for `step` what its own task would have: it waits on what `step` waits on,
    resumes it, and passes a cancellation of this task on to it.
    """
    while True:
        try:
            await _Suspend(yielded)
        except GeneratorExit:
            step.close()
            raise
        except BaseException as exc:  # this task was cancelled while `step` waited
            try:
                yielded = step.throw(exc)
            except StopIteration as stop:
                return stop.value
            continue
        try:
            yielded = step.send(None)
        except StopIteration as stop:
            return stop.value


class Consumer(driver.Consumer):
    """Faust's aiokafka consumer with `ConsumerThread` and a direct hand-off of records."""

    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _deliver(self, callback: Callable[[Any], Awaitable[Any]], message: Any) -> None:
        """Hand `message` to the streams; give up if the flow is suspended while that waits.

        Faust always runs the hand-off as `wait_first(callback(message), suspend_flow)`.
        The callback's first step runs at once either way; when it finishes there (the
        stream queue had room, the flow was not suspended), the outcome is the same
        without the four tasks. Only a hand-off that must wait goes through `wait_first`.
        """
        step = callback(message)
        try:
            yielded = step.send(None)  # type: ignore[attr-defined]
        except StopIteration:
            return
        await self.wait_first(_finish(step, yielded), self.suspend_flow.wait())  # type: ignore[arg-type]

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover
        """Faust 0.15.3's fetch loop, with `_deliver` in place of its `wait_first`."""
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        deliver = self._deliver
        yield_every = 100
        num_since_yield = 0
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                ait: AsyncIterator[Any] = getmany(timeout=1.0)
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in ait:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await asyncio.sleep(0)
                            num_since_yield = 0
                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            if gap > 1 and r_offset and acks_enabled_for(message.topic):
                                await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            await deliver(callback, message)
                            set_read_offset(tp, offset)
                    unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)


class Transport(driver.Transport):
    """Faust's aiokafka transport with `Consumer`."""

    Consumer = Consumer


class App(faust.App):
    """faust.App with the corrections above."""

    @cached_property
    def flow_control(self) -> FlowControl:
        return FlowControl(loop=self.loop)

    def _new_transport(self) -> Transport:
        return Transport(self.conf.broker_consumer, self)
