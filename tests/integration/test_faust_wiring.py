"""Faust on the real broker: a worker consumes a topic, counts in a RocksDB table, produces.

Run as a script, this file is the worker (`python test_faust_wiring.py worker`); the test
starts it as a subprocess, so Faust owns its event loop and signal handling as it does in
production, and the test's loop only drives aiokafka.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from stream.testing.processes import stop_process
from stream.testing.waiting import wait_for_async

READY_TIMEOUT_S = 120.0  # a cold Faust worker joins its group and recovers tables first


def build_app(app_id: str, broker: str, source: str, sink: str, data_dir: Path) -> Any:
    """A minimal Faust app: count each key of `source` in a table, send the count to `sink`."""
    import faust

    app = faust.App(
        app_id,
        broker=broker,
        store="rocksdb://",
        datadir=str(data_dir),
        web_enabled=False,
        topic_partitions=1,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
    )
    words = app.topic(source, key_type=str, value_type=bytes, value_serializer="raw")
    counts_out = app.topic(sink, key_type=str, value_serializer="json")
    counts = app.Table("counts", default=int, partitions=1)

    @app.agent(words)
    async def count(stream: Any) -> None:
        async for word, _ in stream.items():
            counts[word] += 1
            await counts_out.send(key=word, value={"word": word, "count": counts[word]})

    return app


@pytest.fixture
async def topics(kafka_bootstrap: str, unique_name: str) -> AsyncIterator[tuple[str, str]]:
    source, sink = f"{unique_name}-words", f"{unique_name}-counts"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 1, 1) for t in (source, sink)])
        yield source, sink
    finally:
        await admin.close()


@pytest.fixture
def worker(
    kafka_bootstrap: str, unique_name: str, topics: tuple[str, str], tmp_path: Path
) -> Iterator[Path]:
    """The worker subprocess; yields its log file and stops it afterwards."""
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "WIRING_APP_ID": unique_name,
        "WIRING_BROKER": f"kafka://{kafka_bootstrap}",
        "WIRING_SOURCE": topics[0],
        "WIRING_SINK": topics[1],
        "WIRING_DATA_DIR": str(tmp_path / "state"),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, __file__, "worker", "--loglevel", "info"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield log
    finally:
        stop_process(process, 30)


async def test_worker_counts_in_a_table_and_produces(
    kafka_bootstrap: str, topics: tuple[str, str], worker: Path
) -> None:
    source, sink = topics
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for word in ("apple", "pear", "apple"):
            await producer.send_and_wait(source, key=word.encode(), value=b"seen")
    finally:
        await producer.stop()

    received: list[dict[str, Any]] = []
    consumer = AIOKafkaConsumer(
        sink, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()

    async def three_counts() -> bool:
        batches = await consumer.getmany(timeout_ms=500)
        received.extend(orjson.loads(m.value) for ms in batches.values() for m in ms)
        return len(received) >= 3

    try:
        await wait_for_async(three_counts, READY_TIMEOUT_S, interval=0, what="three counts")
    except TimeoutError:
        tail = "\n".join(worker.read_text(errors="replace").splitlines()[-40:])
        pytest.fail(f"no counts on {sink}; the worker log ends with:\n{tail}")
    finally:
        await consumer.stop()

    assert received == [
        {"word": "apple", "count": 1},
        {"word": "pear", "count": 1},
        {"word": "apple", "count": 2},
    ]
    assert _unexpected_errors(worker) == []


def _unexpected_errors(log: Path) -> list[str]:
    # The first group on a fresh broker finds the offsets topic still being created; aiokafka
    # logs that at ERROR and retries. Anything else logged at ERROR is a failure.
    lines = log.read_text(errors="replace").splitlines()
    return [ln for ln in lines if "[ERROR]" in ln and "GroupCoordinatorNotAvailable" not in ln]


if __name__ == "__main__":
    asyncio.set_event_loop(asyncio.new_event_loop())
    build_app(
        os.environ["WIRING_APP_ID"],
        os.environ["WIRING_BROKER"],
        os.environ["WIRING_SOURCE"],
        os.environ["WIRING_SINK"],
        Path(os.environ["WIRING_DATA_DIR"]),
    ).main()
