"""The worker's status file (`--status-file`): per loaded partition its clock, pending
deadlines and how every input message ended, and the process counters."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from stream.app.partitions import Partitions
from stream.app.ports import Clock, Metrics
from stream.core.replay import Counts
from stream.ops.metrics import PartitionCount
from stream.ops.status import write_status

STATUS_EVERY_S = 0.5


class StatusReport:
    """Writes the status to `path` (if any) at most every `STATUS_EVERY_S` unless forced."""

    def __init__(
        self, path: Path | None, partitions: Partitions, metrics: Metrics, clock: Clock
    ) -> None:
        self.path = path
        self.partitions = partitions
        self.metrics = metrics
        self.clock = clock
        self._written_at = 0.0

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
        """Write the status now if it is due (or `force`); a no-op without a path."""
        path = self.path
        if path is None:
            return
        loop_now = asyncio.get_running_loop().time()
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
