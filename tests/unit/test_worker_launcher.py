"""The shared launcher: a worker's command line, and waiting on a child's status file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from stream.testing.worker import ChildExited, Names, StatusProcess, WorkerProcess, broker_url


def _child(code: str, workdir: Path, tag: str = "c") -> StatusProcess:
    return StatusProcess([sys.executable, "-c", code], workdir / "status.json", workdir, tag=tag)


def test_a_worker_runs_on_its_names_with_its_own_files(tmp_path: Path) -> None:
    worker = WorkerProcess(
        "h1:9092,h2:9092", Path("rules.yaml"), Names("demo-1"), tmp_path, partitions=3,
        clock="wall", tag="a", loglevel="warning", extra=["--batch-size", "10"],
    )  # fmt: skip
    args = worker.args
    options = dict(zip(args[4:-2:2], args[5:-2:2], strict=True))
    assert args[:4] == [sys.executable, "-m", "stream", "worker"]
    assert args[-2:] == ["--batch-size", "10"]
    assert options == {
        "--rules": "rules.yaml",
        "--broker": "kafka://h1:9092;kafka://h2:9092",
        "--partitions": "3",
        "--state-dir": str(tmp_path / "a-state"),
        "--events-topic": "demo-1-events",
        "--changes-topic": "demo-1-changes",
        "--dlq-topic": "demo-1-dlq",
        "--definitions-topic": "demo-1-definitions",
        "--app-id": "demo-1",
        "--clock": "wall",
        "--status-file": str(tmp_path / "a-status.json"),
        "--loglevel": "warning",
    }


def test_broker_url_names_every_host() -> None:
    assert broker_url("127.0.0.1:9092") == "kafka://127.0.0.1:9092"
    assert broker_url("a:1,b:2") == "kafka://a:1;kafka://b:2"


def test_wait_until_sees_what_the_child_writes(tmp_path: Path) -> None:
    status = tmp_path / "status.json"
    code = f"import pathlib, time; pathlib.Path({str(status)!r}).write_text('{{\"n\": 3}}'); "
    child = _child(code + "time.sleep(30)", tmp_path).start()
    try:
        child.wait_until(lambda found: found is not None and found["n"] == 3, 30, "n to be 3")
        assert child.status() == {"n": 3}
    finally:
        assert child.stop() is not None
    assert not child.alive()


def test_a_child_that_exits_ends_the_wait_with_its_log(tmp_path: Path) -> None:
    child = _child("print('bad rules'); raise SystemExit(2)", tmp_path).start()
    with pytest.raises(ChildExited, match=r"the child: the process exited \(2\)"):
        child.wait_until(lambda found: found is not None, 30, "the child")
    assert "bad rules" in child.log_text()


def test_a_wait_gives_up_after_its_timeout(tmp_path: Path) -> None:
    child = _child("import time; time.sleep(30)", tmp_path).start()
    try:
        with pytest.raises(TimeoutError, match="waiting for a status"):
            child.wait_until(lambda found: found is not None, 0.2, "a status")
    finally:
        child.stop()


def test_each_start_has_its_own_log_and_no_old_status(tmp_path: Path) -> None:
    child = _child("print('run')", tmp_path, tag="t")
    child.status_path.write_text('{"old": true}')
    for _ in range(2):
        child.start()
        assert child.status() is None
        assert child.proc is not None and child.proc.wait(30) == 0
        assert child.stop() == 0  # already ended: nothing to signal
    assert child.logs == [tmp_path / "t-1.log", tmp_path / "t-2.log"]
    assert child.log_text().split() == ["run", "run"]
