"""Over SASL_SSL with SCRAM-SHA-512: `dev-broker start --secure`, then worker, produce, tail, lag.

The broker is one of this module's own (its data dir, free ports), started by the CLI as a
user would; every client reads its settings from the client env file the broker writes.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from stream.cli.failures import EXIT_UNAVAILABLE
from stream.core.language.loader import load_file
from stream.core.replay import replay_lines
from stream.core.timefmt import parse_ts
from stream.ops.kafka_security import KafkaSecurity
from stream.settings import Settings
from stream.testing.generate import generate
from stream.testing.processes import stop_process
from tests.e2e.harness import Names, WorkerProcess, changes_of, closing_events, read_topic
from tests.support import EXAMPLE_RULES, ROOT
from tests.support.changes import by_contact

SEGSTREAM = shutil.which("segstream", path=str(Path(sys.executable).parent)) or "segstream"
PARTITIONS = 2
REFUSED_WITHIN_S = 30.0  # Python's start and Faust's import; the refusal itself is at once


@dataclass(frozen=True)
class Secure:
    bootstrap: str
    env: dict[str, str]  # the client env file's settings
    start: subprocess.CompletedProcess[str]

    @property
    def password(self) -> str:
        return self.env["SEGSTREAM_KAFKA_SASL_PASSWORD"]

    def security(self) -> KafkaSecurity:
        return KafkaSecurity.of(Settings.from_env(self.env))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _environment(extra: dict[str, str]) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SEGSTREAM_")}
    return {**clean, "PYTHONUNBUFFERED": "1", **extra}


def _segstream(
    *args: str, env: dict[str, str], timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SEGSTREAM, *args], cwd=ROOT, env=_environment(env), capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secure]:
    data_dir = tmp_path_factory.mktemp("secure-broker") / "broker"
    ports = [_free_port() for _ in range(3)]
    where = ["--data-dir", str(data_dir)]
    start = _segstream(
        "dev-broker", "start", "--secure", "--port", str(ports[0]),
        "--controller-port", str(ports[1]), "--internal-port", str(ports[2]), *where, env={},
    )  # fmt: skip
    try:
        assert start.returncode == 0, start.stderr
        env_file = data_dir / "client.env"
        env = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
        yield Secure(start.stdout.strip(), env, start)
    finally:
        _segstream("dev-broker", "stop", *where, env={})


def _stream() -> list[bytes]:
    events = [orjson.dumps(e) for e in generate(150, 2000, seed=11, days=45.0)]
    last = max(parse_ts(orjson.loads(line)["timestamp"]) for line in events)
    return events + closing_events(PARTITIONS, last)


def test_start_prints_where_the_settings_are_not_the_password(secure: Secure) -> None:
    port = secure.bootstrap.rpartition(":")[2]
    assert secure.bootstrap == f"127.0.0.1:{port}"
    assert secure.env["SEGSTREAM_BROKER"] == f"kafka://{secure.bootstrap}"
    assert secure.env["SEGSTREAM_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    env_file = Path(secure.env["SEGSTREAM_KAFKA_CA_FILE"]).parent.parent / "client.env"
    assert str(env_file) in secure.start.stderr
    assert secure.password not in secure.start.stdout + secure.start.stderr
    for private in (env_file, env_file.parent / "server.properties",
                    env_file.parent / "secure" / "secrets.json"):  # fmt: skip
        assert stat.S_IMODE(private.stat().st_mode) == 0o600, private
    # The password reaches no command line, the storage tool's included: only its salted form.
    assert secure.password not in (env_file.parent / "broker.log").read_text()
    status = _segstream("dev-broker", "status", "--data-dir", str(env_file.parent), env={})
    assert status.stdout.strip().endswith(f"with SASL_SSL; client settings in {env_file}")


def test_worker_equals_replay_and_produce_tail_lag_work_over_sasl_ssl(
    secure: Secure, unique_name: str, tmp_path: Path
) -> None:
    lines = _stream()
    expected = list(replay_lines(load_file(EXAMPLE_RULES), lines))
    assert len(expected) > 100
    names = Names(unique_name)
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(lines) + b"\n")
    produced = _segstream(
        "produce", str(events), "--topic", names.events, "--partitions", str(PARTITIONS),
        env=secure.env,
    )  # fmt: skip
    assert produced.returncode == 0, produced.stderr
    assert f"sent {len(lines):,} events" in produced.stderr

    worker = WorkerProcess(
        secure.bootstrap, EXAMPLE_RULES, names, tmp_path, partitions=PARTITIONS,
        clock="event", env=secure.env,
    )  # fmt: skip
    worker.start()
    try:
        worker.wait_ready()
        records = read_topic(
            secure.bootstrap, names.changes, lambda rs: len(rs) >= len(expected),
            timeout=120, settle=1.0, security=secure.security(),
        )  # fmt: skip
        lag = _lag(secure, names, until_zero=True)
    finally:
        worker.stop()
    worker.assert_healthy()
    assert secure.password not in worker.log_text()
    assert by_contact(changes_of(records)) == by_contact(expected)
    assert lag.returncode == 0, lag.stdout + lag.stderr

    first = _first_tail_line(secure, names)
    assert json.loads(first)["contact_id"]


def _lag(secure: Secure, names: Names, *, until_zero: bool) -> subprocess.CompletedProcess[str]:
    """`segstream lag --json`; with `until_zero`, again until the worker caught up."""
    deadline = time.monotonic() + 60
    while True:
        done = _segstream(
            "lag", "--app-id", names.app_id, "--events-topic", names.events, "--json",
            env=secure.env,
        )  # fmt: skip
        if not until_zero or done.returncode == 0 or time.monotonic() > deadline:
            return done
        time.sleep(1.0)  # the worker commits every second


def _first_tail_line(secure: Secure, names: Names) -> str:
    args = [SEGSTREAM, "tail", "--json", "--topic", names.changes]
    with subprocess.Popen(
        args, cwd=ROOT, env=_environment(secure.env), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    ) as tail:  # fmt: skip
        try:
            assert tail.stdout is not None
            return tail.stdout.readline()
        finally:
            assert stop_process(tail, 30) is not None, "tail did not stop"


@pytest.mark.parametrize("command", ["produce", "tail", "lag", "worker", "materialize"])
def test_a_wrong_password_is_one_line_and_exit_3(
    secure: Secure, command: str, tmp_path: Path
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"event_id": "e1"}\n')
    args = {
        "produce": ["produce", str(events)],
        "tail": ["tail"],
        "lag": ["lag"],
        "worker": ["worker", "--rules", str(EXAMPLE_RULES), "--state-dir", str(tmp_path / "s")],
        # No Redis is needed: the broker is asked before Redis is.
        "materialize": ["materialize", "--redis", "redis://127.0.0.1:1"],
    }[command]
    wrong = "not-" + secure.password
    started = time.monotonic()
    done = _segstream(*args, env={**secure.env, "SEGSTREAM_KAFKA_SASL_PASSWORD": wrong})
    took = time.monotonic() - started
    assert done.returncode == EXIT_UNAVAILABLE, done.stderr
    assert done.stderr.splitlines() == [
        f"error: the Kafka broker at {secure.bootstrap} refused the SCRAM-SHA-512 credentials "
        "of user 'segstream' (SaslAuthenticationFailed); check SEGSTREAM_KAFKA_SASL_USERNAME, "
        "SEGSTREAM_KAFKA_SASL_PASSWORD and SEGSTREAM_KAFKA_SASL_MECHANISM"
    ]
    assert wrong not in done.stdout + done.stderr
    assert took < REFUSED_WITHIN_S


def test_without_the_ca_file_the_certificate_is_refused(secure: Secure) -> None:
    env = {k: v for k, v in secure.env.items() if k != "SEGSTREAM_KAFKA_CA_FILE"}
    done = _segstream("tail", env=env)
    assert done.returncode == EXIT_UNAVAILABLE, done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert "TLS handshake" in done.stderr and "SEGSTREAM_KAFKA_CA_FILE" in done.stderr
    assert secure.password not in done.stderr
