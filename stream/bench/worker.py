"""`segstream bench worker`'s measurements: the worker's throughput and latency on a broker.

Four runs on fresh topics: a bare Faust agent that only decodes (the ceiling Faust allows),
the same agent with the worker's Faust fast path, stream buffer and GC setting (so the
worker's own cost shows), the worker backfilling the stream as fast as it can (`--clock
event`), and the worker in live mode fed at half that rate (event-to-change latency as a
consumer sees it).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from stream.app.admin import ensure_topics
from stream.cli.produce import contact_key, produce_lines
from stream.core.changes import decode as decode_change
from stream.core.timefmt import format_ts
from stream.ops.status import handled_in
from stream.testing.worker import (
    READY_TIMEOUT_S,
    Names,
    StatusProcess,
    WorkerProcess,
    broker_url,
)

LONGEST_RUN_S = 3600.0


def ceiling(
    bootstrap: str, lines: list[bytes], partitions: int, work: Path, variant: str = "stock"
) -> float:
    """Events/s of a bare Faust agent decoding the stream (steady state, topic pre-filled).

    `variant` "stock" is faust-streaming as released; "patched" runs the agent with the
    worker's own Faust fast path, stream buffer and GC setting (see `stream.bench.ceiling`).
    """
    run = f"ceiling-{variant}-{os.getpid()}-{int(time.time())}"
    names = Names(f"bench-{run}")
    asyncio.run(produce_lines(bootstrap, names.events, lines, partitions=partitions))
    status = work / f"{run}.json"
    args = [sys.executable, "-m", "stream.bench.ceiling", broker_url(bootstrap)]
    args += [names.events, names.app_id, str(status), variant]
    agent = StatusProcess(args, status, work, tag=run).start()

    def decoded(found: dict[str, int] | None) -> int:
        return int(found["decoded"]) if found else 0

    try:
        agent.wait_until(lambda s: decoded(s) > 0, READY_TIMEOUT_S, "the ceiling agent to start")
        first, started = decoded(agent.status()), time.time()
        ended = agent.wait_until(
            lambda s: decoded(s) >= len(lines), LONGEST_RUN_S, "the ceiling agent"
        )
    finally:
        agent.stop()
    return (len(lines) - first) / (ended - started)


def _worker(
    bootstrap: str, run: str, rules: Path, partitions: int, clock: str, work: Path
) -> WorkerProcess:
    worker = WorkerProcess(
        bootstrap, rules, Names(f"bench-{run}"), work, partitions=partitions, clock=clock,
        tag=run, loglevel="warning",
    )  # fmt: skip
    worker.start().wait_ready()
    return worker


async def _last_change_at(bootstrap: str, topic: str, quiet: float = 2.0) -> tuple[int, float]:
    """How many changes `topic` holds, and the wall time the last one was consumed."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    count, last, quiet_since = 0, 0.0, time.monotonic()
    try:
        while time.monotonic() - quiet_since < quiet:
            got = await consumer.getmany(timeout_ms=200)
            for batch in got.values():
                count += len(batch)
                if batch:
                    last = max(last, batch[-1].timestamp / 1000)
                    quiet_since = time.monotonic()
    finally:
        await consumer.stop()
    return count, last


def throughput(
    bootstrap: str, lines: list[bytes], rules: Path, partitions: int, work: Path
) -> tuple[float, float, int]:
    """(end-to-end events/s, processing events/s, changes) of a backfill with the event clock."""
    run = f"thru-{os.getpid()}-{int(time.time())}"
    worker = _worker(bootstrap, run, rules, partitions, "event", work)
    try:
        first = time.time()
        asyncio.run(produce_lines(bootstrap, worker.names.events, lines))
        handled_at = worker.wait_until(
            lambda status: handled_in(status) >= len(lines), LONGEST_RUN_S, "the worker"
        )
        count, last = asyncio.run(_last_change_at(bootstrap, worker.names.changes))
    finally:
        worker.stop()
    end = max(last, handled_at)
    return len(lines) / (end - first), len(lines) / (handled_at - first), count


async def _paced_latency(
    bootstrap: str, events: str, changes: str, lines: list[bytes], rate: float, seconds: float
) -> list[float]:
    sent: dict[str, float] = {}
    latencies: list[float] = []
    done = asyncio.Event()

    async def consume() -> None:
        consumer = AIOKafkaConsumer(
            changes, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            while not done.is_set():
                got = await consumer.getmany(timeout_ms=100)
                now = time.time()
                for batch in got.values():
                    for record in batch:
                        cause = decode_change(record.value).cause_event_id
                        if cause in sent:
                            latencies.append(now - sent.pop(cause))
        finally:
            await consumer.stop()

    consumer_task = asyncio.create_task(consume())
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=1)
    await producer.start()
    try:
        start = time.monotonic()
        total = min(len(lines), int(rate * seconds))
        for i in range(total):
            target = start + i / rate
            delay = target - time.monotonic()
            if delay > 0.002:
                await asyncio.sleep(delay)
            obj = orjson.loads(lines[i])
            obj["timestamp"] = format_ts(time.time_ns() // 1000)
            value = orjson.dumps(obj)
            sent[obj["event_id"]] = time.time()
            await producer.send(events, value, key=contact_key(value))
        await producer.flush()
        await asyncio.sleep(3.0)  # the last changes arrive
    finally:
        done.set()
        await producer.stop()
        await consumer_task
    return latencies


def latency(
    bootstrap: str,
    lines: list[bytes],
    rules: Path,
    partitions: int,
    rate: float,
    seconds: float,
    work: Path,
) -> list[float]:
    """Event-to-change latencies (s) with the wall clock, fed at `rate` events/s."""
    run = f"lat-{os.getpid()}-{int(time.time())}"
    worker = _worker(bootstrap, run, rules, partitions, "wall", work)
    names = worker.names
    try:
        asyncio.run(ensure_topics(bootstrap, [names.events, names.changes], partitions))
        return asyncio.run(
            _paced_latency(bootstrap, names.events, names.changes, lines, rate, seconds)
        )
    finally:
        worker.stop()
