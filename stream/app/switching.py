"""One partition's rebuild under a new version and its switch, at a batch boundary.

The rebuild re-reads the partition's retained input (events and repartition topics) off the
lock and applies it in a child process (`rebuild_process`), while live batches go on under
the running version, in rounds until it is within `CATCH_UP` records of the live position;
then the worker takes over the states rebuilt so far, still off the lock.
Under `Runtime.lock`, once the batch in flight is durable, it reads the last records up to
the live offsets, and the partition switches at its clock's `now`: the `reason: rules`
messages, the rebuilt states, the deadline index and the meta's `rules_version` and
`switched` (the switch made) are one batch of the usual durable path (messages acknowledged,
then states written); the segments its history may undercount are logged. The follower then
writes the `switched:` record to the definitions topic from the meta (`follow.unannounced`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from stream.app.processor import Effects, Partition
from stream.app.rebuild_input import PartitionInput
from stream.app.rebuild_process import RebuildProcess
from stream.app.runtime import Runtime
from stream.app.versions import Versions
from stream.core.evaluation.engine import Engine
from stream.core.timefmt import format_ts
from stream.core.undercount import History

log = logging.getLogger(__name__)

CATCH_UP = 2_000  # records left to read under the lock, at most (after MAX_ROUNDS, all)
MAX_ROUNDS = 20
PROGRESS_EVERY_S = 5.0


@dataclass(slots=True)
class Switcher:
    """Rebuilds a partition under a version and switches it (a `follow.Rebuilder`)."""

    runtime: Runtime
    open_input: Callable[[int], PartitionInput]
    versions: Versions  # notes the history each switch was rebuilt from
    # True once the app stops: Faust stops the app (and its producer) before this service,
    # so a switch begun then could not make its batch durable.
    stopping: Callable[[], bool] = lambda: False

    async def __call__(self, number: int, part: Partition, engine: Engine) -> None:
        runtime = self.runtime
        version = engine.rules_version
        started = time.monotonic()
        rebuild = RebuildProcess(number, engine, runtime.policy)
        source = self.open_input(number)
        try:
            await rebuild.start()
            await source.start()  # inside: abandoned while starting, its consumer is closed
            total = source.left(part.offsets)
            log.info(
                "partition %d: rebuilding for version %s from %d records of history (from %s)",
                number, version, total, version_from(part),
            )  # fmt: skip
            await self._rounds(number, part, rebuild, source, started)
            await rebuild.prepare()  # off the lock: most states are restored by then
            switch = asyncio.ensure_future(self._switch(number, part, rebuild, source))
            try:
                # Shielded: abandoned half-way, the switch would leave memory and store apart.
                at = await asyncio.shield(switch)
            except asyncio.CancelledError:
                # Abandoned once the switch has begun (the worker stops): it ends first, so
                # that whoever waits on the abandoned rebuild (the stop, before the producer
                # goes) also waits for the switch's flush.
                await switch
                raise
        finally:
            await source.stop()
            await rebuild.stop()
        if at is None:
            log.info(
                "partition %d: rebuild for version %s abandoned: revoked or stopping",
                number, version,
            )  # fmt: skip

    async def _rounds(
        self,
        number: int,
        part: Partition,
        rebuild: RebuildProcess,
        source: PartitionInput,
        started: float,
    ) -> None:
        """Read off the lock until the live position is within `CATCH_UP` records."""
        shown = time.monotonic()
        for _ in range(MAX_ROUNDS):
            if source.left(part.offsets) <= CATCH_UP:
                return
            async for chunk in source.read(dict(part.offsets)):
                await rebuild.feed(chunk)
                await asyncio.sleep(0)  # the live batches, heartbeats and fetches go on
                if time.monotonic() - shown >= PROGRESS_EVERY_S:
                    shown = time.monotonic()
                    left = source.left(part.offsets)
                    rate = rebuild.records / max(shown - started, 1e-6)
                    log.info(
                        "partition %d: rebuilding for version %s: %d records read, %d left, "
                        "about %.0f s to go",
                        number, rebuild.engine.rules_version, rebuild.records, left, left / rate,
                    )  # fmt: skip

    async def _switch(
        self, number: int, part: Partition, rebuild: RebuildProcess, source: PartitionInput
    ) -> int | None:
        """Catch up and switch under the lock; the switch instant, None when revoked or stopping."""
        runtime = self.runtime
        async with runtime.lock:
            await runtime.settle()
            if (
                self.stopping()
                or not runtime.assignment.settled()
                or dict(runtime.partitions.loaded()).get(number) is not part
            ):
                return None
            took = time.monotonic()
            async for chunk in source.read(dict(part.offsets)):
                await rebuild.feed(chunk)
            version, effects = rebuild.engine.rules_version, Effects()
            begun = part.switching
            now = part.now(runtime.clock) if begun is None else int(begun["at"])
            if now is None:  # nothing applied yet, by either version
                history = History(None, None, source.truncated())
                part.use(rebuild.engine)
                now = runtime.clock()
                part.note_switched(now, history)
            else:
                if begun is None:
                    # Durable first: a crash from here on makes the restarted worker redo
                    # this very switch (same states, instant, messages) before any input.
                    part.begin_switch(version, now)
                    await runtime.flusher.flush([(number, Effects(), part.take_writes())])
                log.info(
                    "partition %d: switching to version %s at %s",
                    number, version, format_ts(now),
                )  # fmt: skip
                states, history = await rebuild.finish(now, source.truncated())
                carried = part.switch(rebuild.engine, states, now, effects, history)
                if carried:
                    log.info(
                        "partition %d: %d contacts with no history left (retention removed "
                        "it) switched to version %s from their stored states",
                        number, carried, version,
                    )  # fmt: skip
            await runtime.flusher.flush([(number, effects, part.take_writes())])
            runtime.switched.set()
            runtime.metrics.count("segstream_rule_switches_total")
            log.info(
                "partition %d switched to version %s at %s: %d changes with reason rules "
                "(%d records rebuilt, switch %.2f s)",
                number, rebuild.engine.rules_version, format_ts(now), len(effects.changes),
                rebuild.records, time.monotonic() - took,
            )  # fmt: skip
            self.versions.log_undercounted(number, rebuild.engine, history)
            return now


def version_from(part: Partition) -> str:
    """The version a partition runs now, as the log lines name it."""
    return part.rules_version or part.engine.rules_version
