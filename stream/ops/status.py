"""The worker's status file (`--status-file`): writing, reading, and counting handled inputs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from stream.ops.metrics import PartitionCount

# Every input message ends as exactly one of these (a re-keyed one is counted again when the
# repartition topic brings it back).
OUTCOMES: tuple[PartitionCount, ...] = ("applied", "duplicate", "dead_lettered")


def write_status(path: Path, status: Mapping[str, Any]) -> None:
    """Replace `path` with `status` as JSON at once, so a reader never sees half of it."""
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps(status))
    tmp.replace(path)


def read_status(path: Path) -> dict[str, Any] | None:
    """The status a worker last wrote to `path`, or None before its first write."""
    try:
        status: dict[str, Any] = orjson.loads(path.read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None
    return status


def handled(counts: Mapping[str, int]) -> int:
    """Input messages that have ended (applied, duplicate or dead-lettered) in `counts`."""
    return sum(counts.get(outcome, 0) for outcome in OUTCOMES)


def handled_in(status: dict[str, Any] | None) -> int:
    """`handled` over every partition of one worker's status (0 before it wrote one)."""
    if status is None:
        return 0
    return sum(handled(p["counts"]) for p in status["partitions"].values())
