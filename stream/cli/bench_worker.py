"""`segstream bench worker`: the worker's end-to-end throughput and latency on a real broker.

Four runs on fresh topics: a bare Faust agent that only decodes (the ceiling Faust allows),
the same agent with the worker's Faust fast path, stream buffer and GC setting (so the
worker's own cost shows), the worker backfilling the stream as fast as it can (`--clock
event`), and the worker in live mode fed at half that rate (event-to-change latency as a
consumer sees it).
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from stream.app.admin import ensure_topics
from stream.cli.bench import EXAMPLE_RULES, bench
from stream.cli.produce import contact_key, produce_lines
from stream.core.changes import decode as decode_change
from stream.core.timefmt import format_ts
from stream.ops.status import handled_in, read_status
from stream.settings import Settings

READY_TIMEOUT_S = 120.0


def _wait(predicate: Callable[[], bool], timeout: float, what: str, proc: Any) -> float:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise click.ClickException(f"{what}: the process exited ({proc.returncode})")
        if time.monotonic() > deadline:
            raise click.ClickException(f"gave up waiting for {what} after {timeout:g} s")
        time.sleep(0.05)
    return time.time()


def _stop(proc: Any) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _worker(
    broker: str, run: str, rules: Path, partitions: int, clock: str, work: Path
) -> tuple[Any, Path, str, str]:
    status = work / f"{run}-status.json"
    events, changes = f"bench-{run}-events", f"bench-{run}-changes"
    args = [
        sys.executable, "-m", "stream.cli.worker", "--rules", str(rules), "--broker", broker,
        "--app-id", f"bench-{run}", "--events-topic", events, "--changes-topic", changes,
        "--dlq-topic", f"bench-{run}-dlq", "--partitions", str(partitions),
        "--state-dir", str(work / f"{run}-state"), "--clock", clock,
        "--status-file", str(status), "--loglevel", "warning",
    ]  # fmt: skip
    log = (work / f"{run}.log").open("wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    _wait(lambda: status.exists(), READY_TIMEOUT_S, "the worker to start", proc)
    return proc, status, events, changes


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


def ceiling(
    bootstrap: str,
    broker: str,
    lines: list[bytes],
    partitions: int,
    work: Path,
    variant: str = "stock",
) -> float:
    """Events/s of a bare Faust agent decoding the stream (steady state, topic pre-filled).

    `variant` "stock" is faust-streaming as released; "patched" runs the agent with the
    worker's own Faust fast path, stream buffer and GC setting (see `stream.app.ceiling`).
    """
    run = f"ceiling-{variant}-{os.getpid()}-{int(time.time())}"
    topic = f"bench-{run}-events"
    asyncio.run(produce_lines(bootstrap, topic, lines, partitions=partitions))
    status = work / f"{run}.json"
    args = [broker, topic, f"bench-{run}", str(status), variant]
    proc = subprocess.Popen(
        [sys.executable, "-m", "stream.app.ceiling", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def decoded() -> int:
        found = read_status(status)
        return int(found["decoded"]) if found else 0

    try:
        _wait(lambda: decoded() > 0, READY_TIMEOUT_S, "the ceiling agent to start", proc)
        first, started = decoded(), time.time()
        ended = _wait(lambda: decoded() >= len(lines), 3600, "the ceiling agent", proc)
    finally:
        _stop(proc)
    return (len(lines) - first) / (ended - started)


def throughput(
    bootstrap: str, broker: str, lines: list[bytes], rules: Path, partitions: int, work: Path
) -> tuple[float, float, int]:
    """(end-to-end events/s, processing events/s, changes) of a backfill with the event clock."""
    run = f"thru-{os.getpid()}-{int(time.time())}"
    proc, status, events, changes = _worker(broker, run, rules, partitions, "event", work)
    try:
        first = time.time()
        asyncio.run(produce_lines(bootstrap, events, lines))
        handled_at = _wait(
            lambda: handled_in(read_status(status)) >= len(lines), 3600, "the worker", proc
        )
        count, last = asyncio.run(_last_change_at(bootstrap, changes))
    finally:
        _stop(proc)
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
    broker: str,
    lines: list[bytes],
    rules: Path,
    partitions: int,
    rate: float,
    seconds: float,
    work: Path,
) -> list[float]:
    """Event-to-change latencies (s) with the wall clock, fed at `rate` events/s."""
    run = f"lat-{os.getpid()}-{int(time.time())}"
    proc, _, events, changes = _worker(broker, run, rules, partitions, "wall", work)
    try:
        asyncio.run(ensure_topics(bootstrap, [events, changes], partitions))
        return asyncio.run(_paced_latency(bootstrap, events, changes, lines, rate, seconds))
    finally:
        _stop(proc)


def _stream(contacts: int, events: int, seed: int, work: Path) -> list[bytes]:
    data = work / f"events-{contacts}-{events}-{seed}.jsonl"
    if not data.exists():
        click.echo(f"generating {events:,} events for {contacts:,} contacts -> {data}")
        partial = data.with_suffix(".partial")
        args = ["generate", "--contacts", str(contacts), "--events", str(events)]
        args += ["--seed", str(seed), "-o", str(partial)]
        code = "import sys; from stream.cli.main import main; main(sys.argv[1:])"
        subprocess.run([sys.executable, "-c", code, *args], check=True)
        partial.rename(data)
    return [line for line in data.read_bytes().splitlines() if line.strip()]


@bench.command("worker")
@click.option("--contacts", default=1_000_000, show_default=True)
@click.option("--events", default=1_000_000, show_default=True)
@click.option("--seed", default=1, show_default=True)
@click.option(
    "--rules",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=EXAMPLE_RULES,
    show_default=True,
)
@click.option("--partitions", default=4, show_default=True)
@click.option("--latency-seconds", default=30.0, show_default=True)
@click.option(
    "--workdir",
    default=os.path.join(tempfile.gettempdir(), "segstream-bench"),
    show_default=True,
    help="Where the generated stream is cached between runs.",
)
def bench_worker(
    contacts: int,
    events: int,
    seed: int,
    rules: Path,
    partitions: int,
    latency_seconds: float,
    workdir: str,
) -> None:
    """Throughput and latency of the worker on the broker at SEGSTREAM_BROKER."""
    settings = Settings.from_env()
    bootstrap, broker = settings.bootstrap_servers(), settings.broker
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    lines = _stream(contacts, events, seed, work)
    click.echo(f"{len(lines):,} events, {partitions} partitions, rules {rules}")
    top = ceiling(bootstrap, broker, lines, partitions, work)
    click.echo(f"bare Faust agent, decode only: {top:,.0f} events/s")
    fixed = ceiling(bootstrap, broker, lines, partitions, work, "patched")
    click.echo(
        f"bare Faust agent with segstream's Faust fast path, stream buffer and GC setting: "
        f"{fixed:,.0f} events/s"
    )
    e2e, processing, changes = throughput(bootstrap, broker, lines, rules, partitions, work)
    click.echo(
        f"worker, backfill (--clock event): {e2e:,.0f} events/s end to end "
        f"(first produce to last change), {processing:,.0f} events/s applied, "
        f"{changes:,} changes; {processing / top:.2f} of the ceiling "
        f"({processing / fixed:.2f} of the patched agent: the rest is the worker's own work)"
    )
    rate = e2e / 2
    lat = latency(bootstrap, broker, lines, rules, partitions, rate, latency_seconds, work)
    if len(lat) < 2:
        raise click.ClickException("too few changes to measure latency")
    cuts = statistics.quantiles(lat, n=100)
    click.echo(
        f"worker, live (--clock wall) at {rate:,.0f} events/s: event-to-change latency "
        f"p50 {cuts[49] * 1000:.0f} ms, p99 {cuts[98] * 1000:.0f} ms over {len(lat):,} changes"
    )
