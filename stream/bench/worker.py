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
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer

from stream.app.admin import ensure_topics
from stream.bench import BenchFailed
from stream.bench.cpu import CpuWatch, Shares, listening_pid
from stream.bench.scrape import Scrape, scrape
from stream.cli.produce import produce_lines
from stream.ops.status import handled_in
from stream.testing.worker import (
    READY_TIMEOUT_S,
    Names,
    StatusProcess,
    WorkerProcess,
    broker_url,
)

LONGEST_RUN_S = 3600.0
# The load process's priority in the live run: the producer and consumer of the bench stand
# for clients on other machines, so they must not take the cores from the worker and broker.
LOAD_NICE = 10


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


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _worker(
    bootstrap: str, run: str, rules: Path, partitions: int, clock: str, work: Path,
    extra: list[str] | None = None, checkout: Path | None = None,
) -> WorkerProcess:  # fmt: skip
    """A started worker; with `checkout`, that checkout's (run from it, with its .venv if it
    has one)."""
    python = sys.executable
    if checkout is not None and (checkout / ".venv" / "bin" / "python").exists():
        python = str(checkout / ".venv" / "bin" / "python")
    worker = WorkerProcess(
        bootstrap, rules, Names(f"bench-{run}"), work, partitions=partitions, clock=clock,
        tag=run, loglevel="warning", extra=extra or [], python=python, cwd=checkout,
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


@dataclass(frozen=True, slots=True)
class Live:
    """One live-latency run: what the load saw, what the worker saw, and who used the CPU."""

    latencies: list[tuple[float, float]]  # (seconds since the first send, latency) per change
    worker: Scrape  # the worker's own histograms over the run
    cpu: Shares


def latency(
    bootstrap: str,
    data: Path,
    rules: Path,
    partitions: int,
    rate: float,
    seconds: float,
    work: Path,
    nice: int = LOAD_NICE,
    checkout: Path | None = None,
) -> Live:
    """Event-to-change latencies with the wall clock, fed at `rate` events/s by a load
    process (`stream.bench.live`) running at `nice`; with `checkout`, of that checkout's
    worker."""
    run = f"lat-{os.getpid()}-{int(time.time())}"
    port = free_port()
    extra = ["--web-port", str(port)]
    worker = _worker(bootstrap, run, rules, partitions, "wall", work, extra, checkout)
    names = worker.names
    out = work / f"{run}-load.json"
    spec = {
        "bootstrap": bootstrap, "events": names.events, "changes": names.changes,
        "stream": str(data), "rate": rate, "seconds": seconds, "nice": nice, "out": str(out),
    }  # fmt: skip
    try:
        asyncio.run(ensure_topics(bootstrap, [names.events, names.changes], partitions))
        before = scrape(port)
        watch = CpuWatch()
        broker = listening_pid(int(bootstrap.split(",")[0].rsplit(":", 1)[1]))
        watch.start({"worker": worker.proc.pid if worker.proc else None, "broker": broker})
        load = subprocess.Popen([sys.executable, "-m", "stream.bench.live", orjson.dumps(spec)])
        watch.add("bench load", load.pid)
        if load.wait(seconds + LONGEST_RUN_S) != 0:
            raise BenchFailed(f"the latency load exited with {load.returncode}")
        result = orjson.loads(out.read_bytes())
        shares = watch.stop({"bench load": result["cpu"]})
        seen = scrape(port).minus(before)
    finally:
        worker.stop()
    return Live([(at, lat) for at, lat in result["latencies"]], seen, shares)
