"""Drive `segstream worker` processes against the real broker and read what they publish.

`Names` and the launcher are `stream.testing.worker`'s; this adds what only tests need.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import ConsumerRecord

from stream.cli.produce import produce_lines
from stream.core import changes
from stream.core.changes import Change
from stream.core.timefmt import format_ts
from stream.ops.kafka_security import PLAINTEXT, KafkaSecurity
from stream.testing import worker
from stream.testing.worker import Names
from tests.support import ROOT

READY_TIMEOUT_S = 90.0


class WorkerProcess(worker.WorkerProcess):
    """The shared worker launcher, run from the repository, held to the tests' standards."""

    def __init__(
        self, bootstrap: str, rules: Path, names: Names, workdir: Path, **options: Any
    ) -> None:
        super().__init__(bootstrap, rules, names, workdir, cwd=ROOT, **options)

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> dict[str, Any]:
        return super().wait_ready(timeout)

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM and wait: Faust commits and stops cleanly, within `timeout` seconds."""
        code = super().stop(timeout)
        assert code is not None, f"worker did not stop in {timeout} s; see {self.log()}"
        return code

    def assert_healthy(self) -> None:
        """No tracebacks or ERROR lines in any of its logs."""
        text = self.log_text()
        for bad in ("Traceback", "[ERROR]", "[CRITICAL]"):
            assert bad not in text, f"{bad} in worker log:\n{text[-4000:]}"


def counts_total(statuses: Iterable[dict[str, Any] | None]) -> dict[str, int]:
    """Counters summed over partitions, each partition taken from its latest owner."""
    latest: dict[str, tuple[int, dict[str, int]]] = {}
    for status in statuses:
        if status is None:
            continue
        for number, part in status["partitions"].items():
            if number not in latest or latest[number][0] < status["at_us"]:
                latest[number] = (status["at_us"], part["counts"])
    total: dict[str, int] = defaultdict(int)
    for _, counts in latest.values():
        for name, value in counts.items():
            total[name] += value
    return dict(total)


def produce(bootstrap: str, topic: str, lines: Iterable[bytes], partitions: int) -> int:
    return asyncio.run(produce_lines(bootstrap, topic, lines, partitions=partitions))


def read_topic(
    bootstrap: str,
    topic: str,
    until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
    *,
    timeout: float,
    committed_only: bool = False,
    settle: float = 0.0,
    security: KafkaSecurity = PLAINTEXT,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of `topic` from the start, once `until(records)` holds.

    With `settle`, keep reading that long after it holds, to catch anything extra.
    """

    async def run() -> list[ConsumerRecord[bytes, bytes]]:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            isolation_level="read_committed" if committed_only else "read_uncommitted",
            metadata_max_age_ms=1000,
            **security.client_options(),
        )
        await consumer.start()
        records: list[ConsumerRecord[bytes, bytes]] = []
        deadline = time.monotonic() + timeout
        try:
            settled_at: float | None = None
            while True:
                got = await consumer.getmany(timeout_ms=200)
                for batch in got.values():
                    records.extend(batch)
                now = time.monotonic()
                if settled_at is None and until(records):
                    settled_at = now + settle
                if settled_at is not None and now >= settled_at:
                    return records
                if now > deadline:
                    raise TimeoutError(
                        f"gave up after {timeout} s on {topic}: {len(records)} records"
                    )
        finally:
            await consumer.stop()

    return asyncio.run(run())


def changes_until(
    bootstrap: str, worker: WorkerProcess, topic: str, count: int, *, timeout: float = 120
) -> list[ConsumerRecord[bytes, bytes]]:
    """Start `worker`, read `topic` until it holds `count` records (and a second more), stop it."""
    worker.start()
    try:
        worker.wait_ready()
        return read_topic(
            bootstrap, topic, lambda rs: len(rs) >= count, timeout=timeout, settle=1.0
        )
    finally:
        worker.stop()


def changes_of(records: Iterable[ConsumerRecord[bytes, bytes]]) -> list[Change]:
    """The change messages of `records`, each checked to be exactly what its change encodes to."""
    out = []
    for record in records:
        if record.value is not None:
            change = changes.decode(record.value)
            assert changes.encode(change) == record.value, record.value
            out.append(change)
    return out


def partition_of(contact: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a contact id key."""
    return int(DefaultPartitioner()(contact.encode(), list(range(partitions)), []))


def closing_events(partitions: int, ts_us: int) -> list[bytes]:
    """One identify per partition at `ts_us`, so every partition's clock reaches the end."""
    lines = []
    wanted = set(range(partitions))
    n = 0
    while wanted:
        contact = f"zz-clock-{n}"
        p = partition_of(contact, partitions)
        if p in wanted:
            wanted.discard(p)
            line = {"event_id": f"clock-{n}", "contact_id": contact, "type": "identify",
                    "timestamp": format_ts(ts_us), "traits": {}}  # fmt: skip
            lines.append(orjson.dumps(line))
        n += 1
    return lines
