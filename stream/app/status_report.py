"""The worker's status file (`--status-file`): per loaded partition its clock, pending
deadlines and how every input message ended, and the process counters; its heartbeat also
drives the progress lines (`stream.app.progress`)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from stream.app.partitions import Partitions
from stream.app.ports import Clock, Metrics, PartitionBatch
from stream.app.progress import Progress
from stream.core.replay import Counts
from stream.ops.metrics import PartitionCount
from stream.ops.status import write_status

STATUS_EVERY_S = 0.5


class StatusReport:
    """Writes the status to `path` (if any) at most every `STATUS_EVERY_S` unless forced, and
    feeds `progress` (if any) the runtime's counts."""

    def __init__(
        self,
        path: Path | None,
        partitions: Partitions,
        metrics: Metrics,
        clock: Clock,
        progress: Progress | None = None,
    ) -> None:
        self.path = path
        self.partitions = partitions
        self.metrics = metrics
        self.clock = clock
        self.progress = progress
        self._written_at = 0.0

    def took(self, events: Iterable[Any], batches: Sequence[PartitionBatch]) -> None:
        """A batch of Faust events was applied, with these effects."""
        if self.progress is not None:
            self.progress.took(events, batches)

    def status(self) -> dict[str, Any]:
        """Per loaded partition: clock, pending deadlines and how every input message ended."""
        return {
            "pid": os.getpid(),
            "at_us": self.clock(),
            "partitions": {
                str(n): {
                    "watermark": p.watermark,
                    "pending_deadlines": p.pending_deadlines,
                    "counts": _counts(p.counts),
                }
                for n, p in self.partitions.loaded()
            },
            "metrics": self.metrics.snapshot(),
        }

    def maybe_write(self, *, force: bool = False) -> None:
        """Write the status now if it is due (or `force`), without a path only the progress."""
        loop_now = asyncio.get_running_loop().time()
        if self.progress is not None:
            changes_out = self.metrics.snapshot().get("changes_out", 0)
            wall_s = self.clock() / 1_000_000
            self.progress.tick(loop_now, wall_s, self.partitions.loaded(), changes_out)
        path = self.path
        if path is None:
            return
        if not force and loop_now - self._written_at < STATUS_EVERY_S:
            return
        self._written_at = loop_now
        write_status(path, self.status())


def _counts(counts: Counts) -> dict[PartitionCount, int]:
    return {
        "applied": counts.applied,
        "duplicate": counts.duplicate,
        "dead_lettered": counts.dead_lettered,
        "rekeyed": counts.rekeyed,
    }
