"""`segstream bench restore`'s measurements: a full restore of the table from its changelog.

The worker backfills the stream once (so the changelog holds what a real worker leaves
there), stops, and is started again on an empty state directory at the same path (so it
takes its old place in the group at once): the restore lasts from that start until every
partition is loaded with its deadline index. A raw aiokafka read of the same changelog is
the floor a restore could reach on this machine.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from stream.bench import BenchFailed
from stream.bench.cpu import cpu_seconds
from stream.bench.worker import LONGEST_RUN_S
from stream.cli.produce import produce_lines
from stream.ops.status import handled_in
from stream.testing.worker import Names, Status, WorkerProcess

TAG = "restore"


@dataclass(frozen=True, slots=True)
class Filled:
    """A changelog left by a backfill, and the worker status it must restore to."""

    names: Names
    changelog: str
    records: int  # changelog records a full restore reads
    status: Status  # the worker's last status before it stopped


@dataclass(frozen=True, slots=True)
class Restored:
    """One full restore: how long it took and whether it restored the same partitions."""

    seconds: float  # from process start until every partition was loaded
    cpu: float | None  # CPU seconds the worker used meanwhile (None off Linux)
    same: bool  # the same counts and pending deadlines as before the stop


def _worker(bootstrap: str, names: Names, rules: Path, partitions: int, work: Path,
            python: str = sys.executable, cwd: Path | None = None) -> WorkerProcess:  # fmt: skip
    return WorkerProcess(
        bootstrap, rules, names, work, partitions=partitions, clock="event", tag=TAG,
        loglevel="warning", python=python, cwd=cwd,
    )  # fmt: skip


def _partitions(status: Status | None) -> dict[str, Any]:
    found: dict[str, Any] = (status or {}).get("partitions", {})
    return found


def _restorable(status: Status) -> dict[str, Any]:
    """What a restore must bring back: per partition, its counts and pending deadlines."""
    parts = _partitions(status)
    return {n: (p["counts"], p["pending_deadlines"]) for n, p in parts.items()}


async def _changelog_records(bootstrap: str, topic: str, partitions: int) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        starts = await consumer.beginning_offsets(tps)
    finally:
        await consumer.stop()
    return sum(ends[tp] - starts[tp] for tp in tps)


def fill(bootstrap: str, lines: list[bytes], rules: Path, partitions: int, work: Path) -> Filled:
    """Backfill `lines` with a worker on fresh topics and stop it: its changelog is left."""
    names = Names(f"bench-restore-{os.getpid()}-{int(time.time())}")
    shutil.rmtree(work / f"{TAG}-state", ignore_errors=True)  # an earlier run's table
    worker = _worker(bootstrap, names, rules, partitions, work)
    worker.start().wait_ready()
    try:
        asyncio.run(produce_lines(bootstrap, names.events, lines, partitions=partitions))
        worker.wait_until(
            lambda s: handled_in(s) >= len(lines), LONGEST_RUN_S, "the worker's backfill"
        )
        status = worker.status()
    finally:
        worker.stop()
    assert status is not None  # the backfill was seen in it
    changelog = f"{names.app_id}-state-changelog"
    records = asyncio.run(_changelog_records(bootstrap, changelog, partitions))
    return Filled(names, changelog, records, status)


def restore(
    bootstrap: str,
    filled: Filled,
    rules: Path,
    partitions: int,
    work: Path,
    *,
    python: str = sys.executable,
    cwd: Path | None = None,
) -> Restored:
    """Start the filled worker on an empty state directory; time it until it is loaded.

    `python` and `cwd` run another checkout's worker (a baseline) on the same changelog.
    """
    worker = _worker(bootstrap, filled.names, rules, partitions, work, python, cwd)
    shutil.rmtree(work / f"{TAG}-state", ignore_errors=True)
    started = time.time()
    worker.start()
    try:
        want = len(_partitions(filled.status))
        loaded = worker.wait_until(
            lambda s: len(_partitions(s)) == want, LONGEST_RUN_S, "the restore"
        )
        status = worker.status()
        cpu = cpu_seconds(worker.proc.pid if worker.proc else 0)
    finally:
        worker.stop()
    assert status is not None
    return Restored(loaded - started, cpu, _restorable(status) == _restorable(filled.status))


async def _read_all(bootstrap: str, topic: str, records: int) -> float:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
        enable_auto_commit=False, isolation_level="read_committed",
    )  # fmt: skip
    await consumer.start()
    try:
        started, read = time.perf_counter(), 0
        while read < records:
            got = await consumer.getmany(timeout_ms=1000)
            if not got:
                raise BenchFailed(f"{topic}: read {read} of {records} records, then nothing")
            read += sum(len(batch) for batch in got.values())
        return time.perf_counter() - started
    finally:
        await consumer.stop()


def raw_read(bootstrap: str, filled: Filled) -> float:
    """Seconds a bare aiokafka consumer takes to read the whole changelog."""
    return asyncio.run(_read_all(bootstrap, filled.changelog, filled.records))


def load() -> str:
    """The machine's load averages (1, 5, 15 minutes): other work shares the cores."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"
