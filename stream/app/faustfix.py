"""Corrections to faust-streaming 0.15.3 without which the worker loses input on rebalances.

Both drop records that the consumer has already moved past, so nothing reads them again:
Faust's bookkeeping then treats the hole like a gap in the log, and the next owner of the
partition (or the promoted standby copy of the table) starts after it. docs/worker.md,
"Faust pitfalls met", has the evidence.
"""

from __future__ import annotations

from collections.abc import Set
from typing import Any

import faust
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


class Consumer(driver.Consumer):
    """Faust's aiokafka consumer with `ConsumerThread`."""

    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


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
