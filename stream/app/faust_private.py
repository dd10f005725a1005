"""Every private faust-streaming, mode-streaming and aiokafka name the worker uses, and why.

The worker relies on these internals as they are in the versions of `TESTED` (pinned in
pyproject.toml); `check_versions` refuses any other, and `App` checks before it is built.
Bump the pins only after reading each entry below again, with the whole suite green.

Producing (`stream.app.sink`, `stream.app.batches`):
- faust `Producer._ensure_producer()`: the aiokafka producer behind the app's producer
  service; the worker builds whole record batches (`send_batched`), which Faust cannot.
- faust `Producer._transaction_producers[tid]`, `Producer._trn_locks[tid]`, and the id
  `<app id>-<group>-<partition>` Faust gives them: with exactly-once, a batch goes into its
  input partition's transaction under the lock Faust's commit takes (docs/worker.md).
- aiokafka `AIOKafkaProducer.client._wait_on_metadata(topic)` and `._partitioner`: each
  record's partition chosen as `send` would, with the metadata looked up once per batch.

The table's local store (`stream.app.store`), addressed by partition because a batch mixes
partitions and timers run with no current event, which is where Faust takes it from:
- faust RocksDB `Store._db_for_partition(partition)`: the partition's database.
- faust memory `Store._key_partition`: kept in step with `data`, as Faust's own writes do.

Restoring the table (`stream.app.recovery`, installed by `App` as its `TableManager`):
- faust `TableManager._recovery`, and `Recovery._slurp_changelogs` replaced by a copy that
  takes queued changelog records in chunks; the copy reads and writes Recovery's `buffers`,
  `buffer_sizes`, `tp_to_table`, `active_tps`/`standby_tps`, their offsets and highwaters,
  `_active_events_received_at`, `_standby_events_received_at`, `_processing_times`,
  `_last_active_event_processed_at`, `_last_flush_at`, `_actives_span`, `_standbys_span`
  and `_set_recovery_ended`.

Consuming (the classes below, installed by `App`; docs/worker.md, "Faust pitfalls met"):
- faust `App._new_transport`, `Transport.Consumer`, `Consumer._new_consumer_thread`: the
  hooks that install them.
- faust `AIOKafkaConsumerThread._fetch_records`: fetch only the partitions active when the
  fetch starts (`ConsumerThread`).
- faust `Consumer._drain_messages`: Faust 0.15.3's fetch loop, copied with the direct
  hand-off of records (`Consumer._deliver`); the copy reads `_stopped`, `_read_offset`,
  `_commit_every`, `_n_acked`, `_add_gap` and `faust.transport.consumer.CONSUMER_FETCHING`.
- mode `FlowControlEvent.resume`, through `App.flow_control`: a running flow keeps its
  queues when it is resumed again (`FlowControl`).
- faust `Consumer.commit_and_end_transactions`, `should_stop` and `commit(...,
  start_new_transaction=)`: the app's stop commits without ending the transactions, so the
  consumer's stop after it has one to commit into (`Consumer`).
"""

from __future__ import annotations

import asyncio
import importlib.metadata
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping, Set
from typing import Any

import faust
from aiokafka import AIOKafkaProducer
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as driver
from mode.utils.objects import cached_property
from mode.utils.queues import FlowControlEvent

from stream.app.handoff import finish
from stream.app.recovery import TableManager
from stream.errors import InfrastructureError

# The versions every entry above was read in and the whole suite runs against.
TESTED = {"faust-streaming": "0.15.3", "mode-streaming": "0.7.1", "aiokafka": "0.14.0"}


class UntestedVersion(InfrastructureError):
    """An installed faust-streaming, mode-streaming or aiokafka is not the tested version."""


def check_versions(version: Callable[[str], str] | None = None) -> None:
    """Raise `UntestedVersion` unless every package of `TESTED` is installed at its version.

    `version` looks up an installed distribution's version (importlib.metadata's by default).
    """
    lookup = version or importlib.metadata.version
    for package, tested in TESTED.items():
        try:
            installed = lookup(package)
        except importlib.metadata.PackageNotFoundError:
            installed = "none"
        if installed != tested:
            pins = " ".join(f"{name}=={pinned}" for name, pinned in TESTED.items())
            raise UntestedVersion(
                f"{package} {installed} is installed, but the worker relies on its internals "
                f"as of {tested} (stream/app/faust_private.py); install the tested "
                f"versions: pip install {pins}"
            )


# --- producing ------------------------------------------------------------------------------


def producer(app: Any) -> AIOKafkaProducer:
    """The started aiokafka producer behind `app`'s producer service."""
    found: AIOKafkaProducer = app.producer._ensure_producer()
    return found


def transaction(app: Any, events_topic: str, partition: int) -> tuple[Any, asyncio.Lock]:
    """The transactional producer of input `partition` and the lock Faust commits it under."""
    group = app.assignor.group_for_topic(events_topic)
    tid = f"{app.conf.id}-{group}-{partition}"
    service = app.producer
    return service._transaction_producers[tid], service._trn_locks[tid]


async def key_partitioner(producer: AIOKafkaProducer, topic: str) -> Callable[[bytes | None], int]:
    """How `producer.send` picks a partition for a key of `topic` (murmur2 of the key bytes),
    with the topic's partitions looked up once, not per record."""
    await producer.client._wait_on_metadata(topic)
    metadata = producer.client.cluster
    every = list(metadata.partitions_for_topic(topic))
    available = list(metadata.available_partitions_for_topic(topic))
    partitioner = producer._partitioner
    chosen: dict[bytes, int] = {}  # a contact's changes share its key: hash it once

    def choose(key: bytes | None) -> int:
        if key is None:  # spread at random, as `send` does
            return int(partitioner(key, every, available))
        found = chosen.get(key)
        if found is None:
            found = chosen[key] = int(partitioner(key, every, available))
        return found

    return choose


# --- the table's local store ----------------------------------------------------------------


def partition_db(table: Any) -> Callable[[int], Any] | None:
    """The RocksDB (a `rocksdict.Rdict`) of a partition by number; None for a memory store."""
    found: Callable[[int], Any] | None = getattr(table.data, "_db_for_partition", None)
    return found


def key_partitions(table: Any) -> MutableMapping[bytes, int]:
    """A memory store's partition of each key, which Faust keeps beside its `data`."""
    found: MutableMapping[bytes, int] = table.data._key_partition
    return found


# --- consuming ------------------------------------------------------------------------------
# Two corrections to faust-streaming 0.15.3, without which the worker loses input on
# rebalances: both drop records that the consumer has already moved past, so nothing reads
# them again; Faust's bookkeeping then treats the hole like a gap in the log, and the next
# owner of the partition (or the promoted standby copy of the table) starts after it.
# And one fast path: Faust hands every fetched record to the streams through `wait_first`,
# four tasks and an `asyncio.wait` per record, about a fifth of the worker's CPU; `Consumer`
# hands it over directly whenever that takes no waiting, which is nearly always.


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
    """Faust's aiokafka consumer with `ConsumerThread` and a direct hand-off of records."""

    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def commit_and_end_transactions(self) -> None:
        """Faust's commit at a stop; the app's own leaves new transactions open behind it.

        A stopping worker runs it twice: in `App.on_stop` (through `wait_empty`) and in this
        consumer's `on_stop`, after the agents have stopped. Offsets acked in between had
        no open transaction to go into: `send_offsets_to_transaction` raised
        IllegalOperation, the consumer never stopped, and neither did the process. Only the
        consumer's own stop (and a revocation, as before) ends the transactions.
        """
        keep_open = self.app.should_stop and not self.should_stop
        await self.commit(start_new_transaction=keep_open)

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
        await self.wait_first(finish(step, yielded), self.suspend_flow.wait())  # type: ignore[arg-type]

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
    """faust.App with the corrections above; refuses to be built on untested versions."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        check_versions()
        super().__init__(*args, TableManager=TableManager, **kwargs)

    @cached_property
    def flow_control(self) -> FlowControl:
        return FlowControl(loop=self.loop)

    def _new_transport(self) -> Transport:
        return Transport(self.conf.broker_consumer, self)
