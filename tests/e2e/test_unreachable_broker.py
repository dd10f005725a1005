"""`worker`, `produce`, `tail` and `materialize` against a broker that is not there: one line,
exit 3, soon.

No broker is needed: the address is a loopback port nobody listens on, or one that accepts
connections and never answers.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stream.cli.failures import EXIT_UNAVAILABLE
from tests.support import ROOT

pytestmark = pytest.mark.e2e

RULES = ROOT / "stream" / "examples" / "segments.yaml"
CHECK = "check that it runs and that --broker or SEGSTREAM_BROKER names it"
# Python's start and Faust's import take a few seconds on a busy machine; the check itself
# is immediate for a refused connection.
REFUSED_WITHIN_S = 30.0


def _args(command: str, tmp_path: Path) -> list[str]:
    events = tmp_path / "events.jsonl"
    events.write_text('{"event_id": "e1"}\n')
    return {
        "worker": ["worker", "--rules", str(RULES), "--state-dir", str(tmp_path / "state")],
        "produce": ["produce", str(events)],
        "tail": ["tail"],
        "materialize": ["materialize", "--redis", "redis://127.0.0.1:1"],
    }[command]


def _run(
    args: list[str], port: int, timeout: float
) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEGSTREAM_")}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "stream", *args, "--broker", f"kafka://127.0.0.1:{port}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    return done, time.monotonic() - started


@pytest.fixture
def refused_port() -> int:
    """A loopback port nobody listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections (the kernel does) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


@pytest.mark.parametrize("command", ["worker", "produce", "tail", "materialize"])
def test_a_refused_connection_is_one_line_and_exit_3(
    command: str, refused_port: int, tmp_path: Path
) -> None:
    done, took = _run(_args(command, tmp_path), refused_port, timeout=120)
    assert done.returncode == EXIT_UNAVAILABLE, done.stderr
    assert done.stderr.splitlines() == [
        f"error: cannot reach the Kafka broker at 127.0.0.1:{refused_port} "
        f"(connection refused); {CHECK}"
    ]
    assert done.stdout == ""
    assert took < REFUSED_WITHIN_S


@pytest.mark.parametrize("command", ["worker", "produce", "tail", "materialize"])
def test_a_broker_that_never_answers_is_given_up_after_the_connect_timeout(
    command: str, silent_port: int, tmp_path: Path
) -> None:
    args = [*_args(command, tmp_path), "--connect-timeout", "2s"]
    done, took = _run(args, silent_port, timeout=120)
    assert done.returncode == EXIT_UNAVAILABLE, done.stderr
    assert done.stderr.splitlines() == [
        f"error: cannot reach the Kafka broker at 127.0.0.1:{silent_port} "
        f"(no answer to a metadata request within 2 s); {CHECK}"
    ]
    assert 2.0 <= took < 2.0 + REFUSED_WITHIN_S


def test_at_debug_the_traceback_comes_before_the_line(refused_port: int, tmp_path: Path) -> None:
    done, _ = _run([*_args("produce", tmp_path), "--loglevel", "debug"], refused_port, 120)
    assert done.returncode == EXIT_UNAVAILABLE
    lines = done.stderr.splitlines()
    assert "Traceback (most recent call last):" in lines
    assert lines[-1].startswith("error: cannot reach the Kafka broker at ")
