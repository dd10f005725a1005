"""Faust's table recovery, with the changelog queue drained in chunks instead of per record.

faust-streaming 0.15.3's `Recovery._slurp_changelogs` takes one changelog record at a time:
an `asyncio.wait_for` (a task and a timer) per record, two f-string debug lines, and after
every record a recount of the records left over every partition (`need_recovery`,
`standby_remaining_total`, each building a `Counter`). `Recovery` here does the same work
per record (the same offsets, the same buffers applied to the store in the same order and
at the same sizes) but waits once per chunk of what is already queued, and checks once per
chunk whether recovery is done. A record of a changelog partition that is neither active
nor standby is skipped with a warning (Faust applies it to the previous record's table).
Installed through `faust_private.App` (its `TableManager` setting).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from time import monotonic
from typing import Any

from faust.tables.manager import TableManager as FaustTableManager
from faust.tables.recovery import Recovery as FaustRecovery
from mode import Service

log = logging.getLogger(__name__)

CHUNK = 1000  # records taken from the queue between two checks for the end of recovery
WAIT_S = 5.0  # Faust's wait for the next record before it checks for the end anyway


def _queued(queue: Any, first: Any) -> Iterator[Any]:
    """`first`, then what `queue` already holds, up to `CHUNK` records in all."""
    yield first
    for _ in range(CHUNK - 1):
        if queue.empty():
            return
        yield queue.get_nowait()


class Recovery(FaustRecovery):
    """Faust's `Recovery` with `_slurp_changelogs` taking records in chunks (see above)."""

    @Service.task
    async def _slurp_changelogs(self) -> None:  # pragma: no cover
        """Faust 0.15.3's loop, per chunk of queued records rather than per record."""
        queue = self.tables.changelog_queue
        timeouts = 0
        while not self.should_stop:
            try:
                self.signal_recovery_end.clear()
                try:
                    first = await asyncio.wait_for(queue.get(), timeout=WAIT_S)
                except TimeoutError:
                    timeouts += 1
                    if self.should_stop:
                        return
                    await self._maybe_end(timed_out=True, timeouts=timeouts)
                    continue
                timeouts = 0
                await self._take(_queued(queue, first))
                await self._maybe_end()
                standby_ready = self._standbys_span is None and self.tables.standbys_ready
                if not standby_ready and not self.standby_remaining_total():
                    self.tables.on_standbys_ready()
            except Exception as exc:
                log.warning("Error in recovery %r", exc)

    async def _take(self, events: Iterator[Any]) -> None:
        """Faust's per-record step for each of `events`: offsets, buffers, batches applied."""
        now = monotonic()
        active_tps, standby_tps = self.active_tps, self.standby_tps
        buffers, sizes = self.buffers, self.buffer_sizes
        applied = 0
        for event in events:
            tp, offset = event.message.tp, event.message.offset
            table = self.tp_to_table.get(tp)
            if table is None or not (tp in active_tps or tp in standby_tps):
                log.warning("recovery: unknown changelog partition %s offset %d", tp, offset)
                continue
            if tp in active_tps:
                offsets = self.active_offsets
                self._active_events_received_at[tp] = now
                size = sizes.get(tp) or sizes.setdefault(tp, table.recovery_buffer_size)
                applied += 1
            else:
                offsets = self.standby_offsets
                self._standby_events_received_at.setdefault(tp, now)
                size = sizes.get(tp) or sizes.setdefault(tp, table.standby_buffer_size)
            seen = offsets.get(tp)
            if seen is not None and offset <= seen:
                continue
            offsets[tp] = offset
            buffer = buffers[table]
            buffer.append(event)
            await table.on_changelog_event(event)
            if len(buffer) >= size:
                table.apply_changelog_batch(buffer)
                buffer.clear()
                self._last_flush_at = now
        if applied:
            self._note_processing(applied)

    def _note_processing(self, records: int) -> None:
        """Keep Faust's samples for its time-remaining estimate: one per active record."""
        now = monotonic()
        # Faust sets it when a recovery starts; it has no class default.
        last: float | None = getattr(self, "_last_active_event_processed_at", None)
        if last is not None:
            times = self._processing_times
            times.extend([(now - last) / records] * min(records, 100))
            while len(times) > self.num_samples_required_for_estimate:
                times.popleft()
        self._last_active_event_processed_at = now

    async def _maybe_end(self, *, timed_out: bool = False, timeouts: int = 0) -> None:
        """Faust's end of active recovery: every active partition read to its highwater."""
        # At least two quiet waits in a row before the aborted-transaction fix-up, as Faust.
        if timed_out and self.app.in_transaction and timeouts > 1:
            await self._skip_aborted_transactions()
        if self.in_recovery and not self.need_recovery():
            self.flush_buffers()  # what is left in the buffers
            self._set_recovery_ended()
            if self._actives_span is not None:
                self._actives_span.set_tag("Actives-Ready", True)
            self.signal_recovery_end.set()

    async def _skip_aborted_transactions(self) -> None:
        """A partition whose position reached its highwater short of it ended in an aborted
        transaction (read_committed never delivers those records): count it as read."""
        offsets = self.active_offsets
        for tp, highwater in self.active_highwaters.items():
            offset = offsets[tp]
            if highwater is None or offset is None or offset >= highwater:
                continue
            position = await self.app.consumer.position(tp)
            if position is not None and position >= highwater:
                log.info("Aborted tx until highwater for %s", tp)
                offsets[tp] = highwater


class TableManager(FaustTableManager):
    """Faust's table manager with the `Recovery` above."""

    @property
    def recovery(self) -> FaustRecovery:
        if self._recovery is None:
            self._recovery = Recovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery
