"""`segstream lag` on the real broker: with no worker, with one, after it stopped, and --watch."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from stream.app.admin import ensure_topics
from stream.cli.produce import contact_key
from stream.core.timefmt import parse_ts
from stream.testing.generate import generate
from stream.testing.waiting import wait_for, wait_for_async
from stream.testing.worker import broker_url
from tests.e2e.harness import Names, WorkerProcess
from tests.support import EXAMPLE_RULES, ROOT

PARTITIONS = 3
AGE_S = 60.0  # how old the first half of the produced records is made


def lag(bootstrap: str, names: Names, *args: str) -> tuple[int, dict[str, Any]]:
    """One `segstream lag --json` run: its exit status and its report."""
    done = subprocess.run(
        [sys.executable, "-m", "stream", "lag", "--json", *_target(bootstrap, names), *args],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode in (0, 1, 2, 4), done.stderr.decode()
    return done.returncode, orjson.loads(done.stdout)


def _target(bootstrap: str, names: Names) -> list[str]:
    url = broker_url(bootstrap)
    return ["--broker", url, "--app-id", names.app_id, "--events-topic", names.events]


async def produce(bootstrap: str, topic: str, lines: list[bytes], timestamps_ms: list[int]) -> None:
    await ensure_topics(bootstrap, [topic], PARTITIONS)
    await wait_for_async(lambda: _has_leaders(bootstrap, topic), 30, what=f"{topic}'s leaders")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for line, ts in zip(lines, timestamps_ms, strict=True):
            await producer.send(topic, line, key=contact_key(line), timestamp_ms=ts)
        await producer.flush()
    finally:
        await producer.stop()


async def _has_leaders(bootstrap: str, topic: str) -> bool:
    """Whether the broker's metadata has `topic` with a leader for every partition (a client
    asking sooner logs an error while the new topic's metadata spreads)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = await admin.describe_topics(None)  # every topic: asking for one may create it
    finally:
        await admin.close()
    found = [t for t in topics if t["topic"] == topic and t["error_code"] == 0]
    return bool(found) and all(p["leader"] >= 0 for p in found[0]["partitions"])


async def commit(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    """Commit `offsets` for `group` as a plain consumer does, without joining the group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


def _events(n: int, seed: int) -> list[bytes]:
    return [orjson.dumps(e) for e in generate(50, n, seed=seed, days=1.0)]


def test_lag_without_a_worker_with_one_and_after_it_stopped(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    names = Names(unique_name)
    lines = _events(300, seed=3)
    now_ms = time.time_ns() // 1_000_000
    old_ms = now_ms - int(AGE_S * 1000)
    half = len(lines) // 2
    stamps = [old_ms] * half + [now_ms] * (len(lines) - half)
    asyncio.run(produce(kafka_bootstrap, names.events, lines, stamps))

    # No worker ever ran: no committed offsets (exit 4), and every event is lag.
    code, report = lag(kafka_bootstrap, names)
    assert code == 4
    rows = report["partitions"]
    assert [(r["topic"], r["partition"]) for r in rows] == [
        (names.events, p) for p in range(PARTITIONS)
    ]  # the repartition topic does not exist yet
    assert sum(r["lag"] for r in rows) == len(lines)
    assert all(r["committed"] is None and r["end"] == r["lag"] for r in rows)
    age = (parse_ts(report["at"]) // 1000 - old_ms) / 1000
    for row in rows:  # the age of each partition's oldest record, read from it
        assert abs(row["lag_seconds"] - age) < 1.0, row

    # Offsets committed by a plain consumer, just now: OK (exit 0) until --stop-after passes.
    first = {TopicPartition(names.events, r["partition"]): 1 for r in rows}
    asyncio.run(commit(kafka_bootstrap, names.app_id, first))
    code, report = lag(kafka_bootstrap, names)
    assert code == 0 and report["status"] == "OK", report
    assert all(r["committed"] == 1 and r["lag"] == r["end"] - 1 for r in report["partitions"])
    wait_for(
        lambda: _every_lagging_one_stopped(*lag(kafka_bootstrap, names, "--stop-after", "2s")),
        timeout=30,
        what="STOP once the commits are older than --stop-after",
    )

    worker = WorkerProcess(kafka_bootstrap, EXAMPLE_RULES, names, tmp_path, partitions=PARTITIONS)
    worker.start()
    try:
        worker.wait_ready()
        caught_up = wait_for(
            lambda: (
                (found := lag(kafka_bootstrap, names))[0] == 0
                and all(r["lag"] == 0 for r in found[1]["partitions"])
                and found[1]
            ),
            timeout=90,
            what="the worker's lag to reach 0",
        )
    finally:
        worker.stop()
    worker.assert_healthy()
    assert caught_up["status"] == "OK"
    assert all(r["lag_seconds"] == 0 for r in caught_up["partitions"])
    assert {r["topic"] for r in caught_up["partitions"]} == {
        names.events,
        f"{names.app_id}-{names.events}-repartition",
    }

    # Events keep coming with the worker stopped: STOP once its last commit is 2 s old.
    asyncio.run(produce(kafka_bootstrap, names.events, _events(30, seed=4), [now_ms] * 30))
    stopped = wait_for(
        lambda: (
            _every_lagging_one_stopped(
                *(found := lag(kafka_bootstrap, names, "--stop-after", "2s"))
            )
            and found[1]
        ),
        timeout=30,
        what="STOP after the worker stopped",
    )
    assert stopped["status"] == "ERR"
    assert any(r["status"] == "STOP" for r in stopped["partitions"])


def _every_lagging_one_stopped(code: int, report: dict[str, Any]) -> bool:
    rows = report["partitions"]
    return code == 2 and all(r["status"] == ("STOP" if r["lag"] else "OK") for r in rows)


@contextlib.asynccontextmanager
async def watching(bootstrap: str, names: Names, *args: str) -> AsyncIterator[Any]:
    """`segstream lag --watch ... --json` as a child; yields its process, SIGINT at the end."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "stream", "lag", "--json", *_target(bootstrap, names), *args,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            await asyncio.wait_for(proc.wait(), 30)


async def first_report(proc: Any, status: str, timeout: float) -> dict[str, Any]:
    """The first report the watching child prints with a partition in `status`."""
    async with asyncio.timeout(timeout):
        while True:
            line = await proc.stdout.readline()
            assert line, (await proc.stderr.read()).decode()
            report: dict[str, Any] = orjson.loads(line)
            if any(r["status"] == status for r in report["partitions"]):
                return report


async def keep_committing(
    bootstrap: str, group: str, tp: TopicPartition, offset: list[int], produce_too: bool
) -> None:
    """Commit `offset[0]` every 0.2 s (a consumer that is alive but does not move on), and
    with `produce_too` add a record each time."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await consumer.start()
    await producer.start()
    try:
        consumer.assign([tp])
        while True:
            await consumer.commit({tp: offset[0]})
            if produce_too:
                await producer.send_and_wait(tp.topic, b"{}", partition=tp.partition)
            await asyncio.sleep(0.2)  # the pace of a live consumer's commits
    finally:
        await producer.stop()
        await consumer.stop()


async def test_watch_a_frozen_offset_with_a_growing_end_is_stall(
    kafka_bootstrap: str, unique_name: str
) -> None:
    names = Names(unique_name)
    now_ms = time.time_ns() // 1_000_000
    await produce(kafka_bootstrap, names.events, _events(20, seed=5), [now_ms] * 20)
    tp = TopicPartition(names.events, 0)
    committer = asyncio.create_task(keep_committing(kafka_bootstrap, names.app_id, tp, [1], True))
    try:
        async with watching(kafka_bootstrap, names, "--watch", "0.5", "--window", "3") as proc:
            report = await first_report(proc, "STALL", timeout=30)
            row = next(r for r in report["partitions"] if r["partition"] == 0)
            assert row["status"] == "STALL" and row["committed"] == 1
            assert report["status"] == "ERR"
            proc.send_signal(signal.SIGINT)
            assert await asyncio.wait_for(proc.wait(), 30) == 2  # the last sample's status
    finally:
        committer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await committer


async def test_watch_a_reset_to_earlier_offsets_is_rewind(
    kafka_bootstrap: str, unique_name: str
) -> None:
    names = Names(unique_name)
    now_ms = time.time_ns() // 1_000_000
    await produce(kafka_bootstrap, names.events, _events(60, seed=6), [now_ms] * 60)
    tp = TopicPartition(names.events, 0)
    offset = [10]
    committer = asyncio.create_task(
        keep_committing(kafka_bootstrap, names.app_id, tp, offset, False)
    )
    try:
        async with watching(kafka_bootstrap, names, "--watch", "0.5", "--window", "3") as proc:
            await first_report(proc, "OK", timeout=30)
            offset[0] = 3  # an operator resets the group to earlier offsets
            report = await first_report(proc, "REWIND", timeout=30)
            row = next(r for r in report["partitions"] if r["partition"] == 0)
            assert row["status"] == "REWIND" and row["committed"] == 3
            assert report["status"] == "ERR"
    finally:
        committer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await committer
