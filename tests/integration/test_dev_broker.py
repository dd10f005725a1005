"""`segstream dev-broker`: start twice is harmless, status tells, stop leaves no process."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from stream.ops.broker import kafka_uuid
from stream.ops.procs import pid_alive, process_cmdline
from stream.testing.waiting import wait_for_async

SEGSTREAM = shutil.which("segstream", path=str(Path(sys.executable).parent)) or "segstream"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SEGSTREAM, "dev-broker", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


def _brokers_using(config: Path) -> list[int]:
    pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
    return [pid for pid in pids if str(config) in process_cmdline(pid) and pid_alive(pid)]


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A data dir of the test's own, so the shared test broker is never touched."""
    path = tmp_path / "broker"
    yield path
    _cli("stop", "--data-dir", str(path))


def test_start_twice_status_and_stop(data_dir: Path) -> None:
    port, controller_port = _free_port(), _free_port()
    start = ["start", "--port", str(port), "--controller-port", str(controller_port)]
    where = ["--data-dir", str(data_dir)]

    first = _cli(*start, *where)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"127.0.0.1:{port}"
    pid = json.loads((data_dir / "broker.json").read_text())["pid"]

    second = _cli(*start, *where)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == f"127.0.0.1:{port}"
    assert "already running" in second.stderr
    assert _brokers_using(data_dir / "server.properties") == [pid]

    status = _cli("status", *where)
    assert status.returncode == 0
    assert f"running (pid {pid}) at 127.0.0.1:{port}" in status.stdout

    stop = _cli("stop", *where)
    assert stop.returncode == 0, stop.stderr
    assert f"stopped (pid {pid})" in stop.stdout
    assert not pid_alive(pid)
    assert _brokers_using(data_dir / "server.properties") == []
    assert not (data_dir / "broker.json").exists()

    after = _cli("status", *where)
    assert after.returncode == 3
    assert after.stdout.strip() == "not running"
    assert _cli("stop", *where).stdout.strip() == "not running"


def test_cluster_ids_never_look_like_a_flag() -> None:
    # One id in 64 would start with "-" if drawn naively; 2000 draws exercise the guard.
    ids = {kafka_uuid() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)


def test_missing_java_is_one_line_saying_what_to_install(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty)}
    result = _cli("start", "--port", str(_free_port()), "--data-dir", str(tmp_path / "d"), env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "`java` was not found" in lines[0]
    assert "apt-get install -y default-jre-headless maven" in lines[0]


async def test_transactions_work_on_the_test_broker(kafka_bootstrap: str, unique_name: str) -> None:
    """The single-node config keeps exactly-once possible: committed is read, aborted is not."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(unique_name, 1, 1)])
    finally:
        await admin.close()

    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=f"{unique_name}-tx"
    )
    await producer.start()
    try:
        await producer.begin_transaction()
        await producer.send_and_wait(unique_name, b"aborted")
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send_and_wait(unique_name, b"committed")
    finally:
        await producer.stop()

    seen: list[bytes] = []
    consumer = AIOKafkaConsumer(
        unique_name,
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()

    async def committed_seen() -> bool:
        batches = await consumer.getmany(timeout_ms=500)
        seen.extend(m.value for ms in batches.values() for m in ms if m.value is not None)
        return b"committed" in seen

    try:
        await wait_for_async(committed_seen, 60, interval=0, what="the committed message")
    finally:
        await consumer.stop()
    assert seen == [b"committed"]
