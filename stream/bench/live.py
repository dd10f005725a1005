"""The live-latency load of `segstream bench worker`: a paced producer and a change consumer.

Run as `python -m stream.bench.live SPEC_JSON`; it sends the stream's events at a fixed rate
with the current time as their timestamp, reads the change topic from the start, and writes
to the spec's `out` file, per change caused by one of its events, (seconds since the first
send, seconds from send to receipt), and the CPU seconds it used in all. It runs as its own process
at the spec's `nice`, so that the bench can count its CPU and keep it from competing with
the worker it measures.
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from stream.bench.data import stream_lines
from stream.cli.produce import contact_key
from stream.core.changes import decode as decode_change
from stream.core.timefmt import format_ts

DRAIN_S = 3.0  # after the last send, how long the last changes may take to arrive


async def paced(
    bootstrap: str, events: str, changes: str, lines: list[bytes], rate: float, seconds: float
) -> list[tuple[float, float]]:
    """(sent at, latency) per change caused by an event sent at `rate` events/s."""
    sent: dict[str, float] = {}
    seen: list[tuple[float, float]] = []
    done = asyncio.Event()
    start = time.time()

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
                            at = sent.pop(cause)
                            seen.append((at - start, now - at))
        finally:
            await consumer.stop()

    consumer_task = asyncio.create_task(consume())
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=1)
    await producer.start()
    try:
        began = time.monotonic()
        total = min(len(lines), int(rate * seconds))
        for i in range(total):
            delay = began + i / rate - time.monotonic()
            if delay > 0.002:
                await asyncio.sleep(delay)
            obj = orjson.loads(lines[i])
            obj["timestamp"] = format_ts(time.time_ns() // 1000)
            value = orjson.dumps(obj)
            sent[obj["event_id"]] = time.time()
            await producer.send(events, value, key=contact_key(value))
        await producer.flush()
        await asyncio.sleep(DRAIN_S)  # a fixed grace, not a synchronisation: nothing waits on it
    finally:
        done.set()
        await producer.stop()
        await consumer_task
    return seen


def main(spec_json: str) -> None:
    """Run the load the spec describes and write what it measured to the spec's `out`."""
    spec: dict[str, Any] = orjson.loads(spec_json)
    os.nice(int(spec["nice"]))
    lines = stream_lines(Path(spec["stream"]))
    seen = asyncio.run(
        paced(spec["bootstrap"], spec["events"], spec["changes"], lines, spec["rate"],
              spec["seconds"])
    )  # fmt: skip
    used = resource.getrusage(resource.RUSAGE_SELF)
    result = {"latencies": seen, "cpu": used.ru_utime + used.ru_stime}
    Path(spec["out"]).write_bytes(orjson.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
