"""The worker following the definitions topic: each new version rebuilt and switched to.

A service of Faust's worker, beside the agent: it reads the topic with a plain consumer,
loads each new version (`Versions`), and rebuilds every owned partition whose states are
not on the version in force (`switching.rebuild_and_switch`), one partition at a time. A
newer version arriving meanwhile abandons the rebuild in progress; the next one starts for
the newest. A partition that moves to another worker is rebuilt by its new owner, which
sees from the partition's meta that it is not on the version in force.

The `switched:` records are written from the partitions' metas, once per process for every
switch an owned partition holds (`unannounced`): after each switch, and after a restart for
those a crash (between the switch's flush and its record) may have left unannounced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from mode import Service

from stream.app.processor import Partition
from stream.app.runtime import Runtime
from stream.app.versions import Versions
from stream.core.definitions import Record, Switch, Version, decode
from stream.core.evaluation.engine import Engine
from stream.ops.kafka_security import KafkaSecurity

log = logging.getLogger(__name__)

POLL_S = 1.0  # how soon a published version is seen
RETRY_S = 10.0  # after a rebuild failed (the broker, say), before it starts again

Rebuilder = Callable[[int, Partition, Engine], Awaitable[None]]
Announcer = Callable[[list[Switch]], Awaitable[None]]  # writes `switched:` records, in order


class AnnounceFailed(Exception):
    """Writing a `switched:` record failed (the rebuilds' retry covers it, named apart)."""


class DefinitionsFeed:
    """The definitions topic's records from offset `start` on, as they are published."""

    def __init__(self, bootstrap: str, security: KafkaSecurity, topic: str, start: int) -> None:
        self._tp = TopicPartition(topic, 0)
        self._start = start
        self._options = {
            "bootstrap_servers": bootstrap,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "fetch_max_bytes": 16 * 1024 * 1024,
            "max_partition_fetch_bytes": 16 * 1024 * 1024,
            **security.client_options(),
        }
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        # Made here: aiokafka binds a client to the running event loop when it is created.
        self._consumer = AIOKafkaConsumer(**self._options)
        await self._consumer.start()
        self._consumer.assign([self._tp])
        self._consumer.seek(self._tp, self._start)

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def poll(self) -> list[Record]:
        """The records published since the last poll (none within a short wait)."""
        assert self._consumer is not None, "poll before start"
        found = await self._consumer.getmany(self._tp, timeout_ms=200)
        records = (decode(m.value) for m in found.get(self._tp, []))
        return [r for r in records if r is not None]


class Follower(Service):
    """Follows the definitions topic and brings the owned partitions to the version in force."""

    logger = logging.getLogger("mode.follower")  # mode's start/stop chatter, at debug

    def __init__(
        self,
        runtime: Runtime,
        versions: Versions,
        feed: DefinitionsFeed,
        rebuild: Rebuilder,
        announce: Announcer,
        group: str,
        stopping: Callable[[], bool] = lambda: False,
        **kwargs: Any,
    ) -> None:
        self.runtime = runtime
        self.versions = versions
        self.feed = feed
        self.rebuild = rebuild
        self.announce = announce
        self.group = group
        self._announced: set[Switch] = set()  # by this process
        # Faust stops the app before this service: from then on nothing is rebuilt, or the
        # rebuild loop would start the abandoned partition again, and again, until stopped.
        self.stopping = stopping
        self._task: asyncio.Task[None] | None = None
        self._for: Engine | None = None  # the version the task in progress rebuilds for
        self._retry_at = 0.0
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        await self.feed.start()

    async def on_stop(self) -> None:
        await self._abandon("the worker stops")
        await self.feed.stop()

    @Service.task
    async def _following(self) -> None:
        while not self.should_stop:
            try:
                for record in await self.feed.poll():
                    if isinstance(record, Version) and self.versions.offer(record):
                        await self._abandon(f"version {record.rules_version} arrived")
                await self._check()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("following the definitions topic failed; retrying")
            await self.sleep(POLL_S)

    def behind(self) -> list[tuple[int, Partition]]:
        """The owned, loaded partitions whose states are not on the version in force, or
        whose switch was begun and not made (first: they take no input until it is); none
        once the worker stops."""
        version = self.versions.in_force.rules_version
        found = [
            (number, part)
            for number, part in self._owned()
            if part.rules_version != version or part.switching
        ]
        return sorted(found, key=lambda item: (item[1].switching is None, item[0]))

    def target(self, part: Partition) -> Engine:
        """The version to rebuild `part` for: a begun switch's, else the one in force."""
        begun = part.switching
        if begun is None:
            return self.versions.in_force
        engine = self.versions.engines.get(begun["rules_version"])
        if engine is None:
            log.warning(
                "partition %d: the switch begun to version %s cannot be redone (the version "
                "is not on the topic); switching to %s", part.partition,
                begun["rules_version"], self.versions.in_force.rules_version,
            )  # fmt: skip
            part.switching = None
            return self.versions.in_force
        return engine

    async def _check(self) -> None:
        task = self._task
        if task is not None and task.done():
            self._task = None
            if not task.cancelled() and task.exception() is not None:
                error = task.exception()
                what = (
                    "writing a switched: record" if isinstance(error, AnnounceFailed) else "rebuild"
                )
                log.error("%s failed (%s); it starts again in %.0f s", what, error, RETRY_S)
                self._retry_at = asyncio.get_running_loop().time() + RETRY_S
        now = asyncio.get_running_loop().time()
        if self._task is None and now >= self._retry_at and (self.behind() or self.pending()):
            self._for = self.versions.in_force
            self._task = asyncio.create_task(self.catch_up())

    async def catch_up(self) -> None:
        """Announce the switches not announced yet, then rebuild every partition behind,
        announcing each switch: one task, so a partition's records are written in order."""
        await self._announce()
        while behind := self.behind():
            number, part = behind[0]
            await self.rebuild(number, part, self.target(part))
            await self._announce()

    def pending(self) -> list[Switch]:
        """The switches of the owned, loaded partitions this process has not announced;
        none once the worker stops."""
        return unannounced(self.group, self._owned(), self._announced)

    def _owned(self) -> list[tuple[int, Partition]]:
        """The owned, loaded partitions; none while the assignment settles or once the
        worker stops."""
        runtime = self.runtime
        if self.stopping() or not runtime.assignment.settled():
            return []
        owned = set(runtime.assignment.owned())
        return [(number, part) for number, part in runtime.partitions.loaded() if number in owned]

    async def _announce(self) -> None:
        # Announcing again what a record already says is harmless: the topic is compacted
        # and the record has the same key and contents, so a restart announces them all.
        # One producer for them all: after a restart, every loaded partition has one.
        pending = self.pending()
        if not pending:
            return
        try:
            await self.announce(pending)
        except Exception as error:  # the catch-up logs it and starts again
            numbers = ", ".join(str(record.partition) for record in pending)
            where = "partition" if len(pending) == 1 else "partitions"
            raise AnnounceFailed(f"{where} {numbers}: {error}") from error
        self._announced.update(pending)

    async def _abandon(self, why: str) -> None:
        task, self._task = self._task, None
        if task is None or task.done():
            return
        version = None if self._for is None else self._for.rules_version
        log.info("rebuild for version %s abandoned: %s", version, why)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def unannounced(
    group: str, loaded: Iterable[tuple[int, Partition]], announced: Collection[Switch]
) -> list[Switch]:
    """The `switched:` records of `loaded`'s metas not in `announced`: each partition's last
    switch, made to the version it runs (none in a meta written before switches were kept;
    none while a begun switch is redone: the record comes once it is made)."""
    found = []
    for number, part in loaded:
        made = part.switched
        if made is None or part.switching is not None:
            continue
        record = Switch(group, number, str(made["rules_version"]), int(made["at"]))
        if record.rules_version == part.rules_version and record not in announced:
            found.append(record)
    return found
