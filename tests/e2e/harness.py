"""Drive `segstream worker` processes against the real broker and read what they publish."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
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
from stream.ops.status import read_status

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class Names:
    """Unique topic names and app id of one test."""

    prefix: str

    @property
    def events(self) -> str:
        return f"{self.prefix}-events"

    @property
    def changes(self) -> str:
        return f"{self.prefix}-changes"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}-dlq"

    @property
    def app_id(self) -> str:
        return f"{self.prefix}-app"


@dataclass
class WorkerProcess:
    """One `segstream worker` subprocess with its own state directory and status file."""

    bootstrap: str
    rules: Path
    names: Names
    workdir: Path
    partitions: int = 1
    clock: str = "event"
    extra: Sequence[str] = ()
    env: dict[str, str] = field(default_factory=dict)
    tag: str = "w"
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    logs: list[Path] = field(default_factory=list)

    @property
    def status_path(self) -> Path:
        return self.workdir / f"{self.tag}-status.json"

    def start(self) -> WorkerProcess:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        log = self.workdir / f"{self.tag}-{self.starts}.log"
        self.logs.append(log)
        self.status_path.unlink(missing_ok=True)
        args = [
            sys.executable, "-m", "stream.cli.worker",
            "--rules", str(self.rules),
            "--broker", f"kafka://{self.bootstrap}",
            "--partitions", str(self.partitions),
            "--state-dir", str(self.workdir / f"{self.tag}-state"),
            "--events-topic", self.names.events,
            "--changes-topic", self.names.changes,
            "--dlq-topic", self.names.dlq,
            "--app-id", self.names.app_id,
            "--clock", self.clock,
            "--status-file", str(self.status_path),
            *self.extra,
        ]  # fmt: skip
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env
            )
        return self

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> dict[str, Any]:
        """Wait for the first status file: the worker created its topics and runs."""
        deadline = time.monotonic() + timeout
        while (status := self.status()) is None:
            assert self.alive(), f"worker exited; see {self.logs[-1]}"
            if time.monotonic() > deadline:
                raise TimeoutError(f"worker not ready after {timeout} s; see {self.logs[-1]}")
            time.sleep(0.1)
        return status

    def status(self) -> dict[str, Any] | None:
        return read_status(self.status_path)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM and wait: Faust commits and stops cleanly."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(
                f"worker did not stop in {timeout} s; see {self.logs[-1]}"
            ) from None

    def kill(self) -> None:
        """kill -9: no flush, no commit."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.exists())

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


def changes_of(records: Iterable[ConsumerRecord[bytes, bytes]]) -> list[Change]:
    """The change messages of `records`, each checked to be exactly what its change encodes to."""
    out = []
    for record in records:
        if record.value is not None:
            change = changes.decode(record.value)
            assert changes.encode(change) == record.value, record.value
            out.append(change)
    return out


def by_contact(found: Iterable[Change]) -> dict[str, list[Change]]:
    out: dict[str, list[Change]] = defaultdict(list)
    for change in found:
        out[change.contact_id].append(change)
    return dict(out)


def drop_repeats(found: Iterable[Change]) -> dict[str, list[Change]]:
    """Per contact, what a consumer keeps when it drops every `seq` it has already seen."""
    kept: dict[str, list[Change]] = defaultdict(list)
    for change in found:
        mine = kept[change.contact_id]
        if not mine or change.seq > mine[-1].seq:
            mine.append(change)
    return dict(kept)


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
