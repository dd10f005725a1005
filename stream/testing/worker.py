"""Start `segstream worker` (or any child that writes a status file) and watch its status."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from stream.ops.status import handled_in, read_status
from stream.testing.processes import kill_process, stop_process
from stream.testing.waiting import wait_for

READY_TIMEOUT_S = 120.0  # a cold worker imports Faust, creates its topics and joins its group
STOP_TIMEOUT_S = 60.0
POLL_S = 0.05

Status = dict[str, Any]


class ChildExited(RuntimeError):
    """The child process ended while it was being waited on."""


@dataclass(frozen=True)
class Names:
    """The topics and app id of one worker group, all derived from one unique prefix."""

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
    def definitions(self) -> str:
        return f"{self.prefix}-definitions"

    @property
    def app_id(self) -> str:
        return self.prefix


class StatusProcess:
    """A child process that reports on itself by rewriting a JSON status file.

    It may be started again after it stopped or was killed; each start has its own log,
    `{workdir}/{tag}-{start}.log`, and begins without a status file.
    """

    def __init__(
        self,
        args: Sequence[str],
        status_path: Path,
        workdir: Path,
        *,
        tag: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.args = list(args)
        self.status_path = status_path
        self.workdir = workdir
        self.tag = tag
        self.env = env or {}
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.logs: list[Path] = []

    def start(self) -> Self:
        assert not self.alive(), "already running"
        self.starts += 1
        log = self.workdir / f"{self.tag}-{self.starts}.log"
        self.logs.append(log)
        self.status_path.unlink(missing_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                self.args, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT, env=env
            )
        return self

    def status(self) -> Status | None:
        """What the child last wrote, or None before its first write."""
        return read_status(self.status_path)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_until(
        self, predicate: Callable[[Status | None], bool], timeout: float, what: str
    ) -> float:
        """Poll the status until `predicate` holds; return the wall time it was seen to hold.

        Raise ChildExited if the child ends first, TimeoutError after `timeout` seconds.
        """

        def held() -> bool:
            if predicate(self.status()):
                return True
            if not self.alive():
                code = self.proc.returncode if self.proc is not None else None
                raise ChildExited(f"{what}: the process exited ({code}); see {self.log()}")
            return False

        wait_for(held, timeout, interval=POLL_S, what=f"{what} (see {self.log()})")
        return time.time()

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM and wait; kill it if it does not exit within `timeout` seconds.

        Returns its exit status, or None if it had to be killed.
        """
        assert self.proc is not None
        return stop_process(self.proc, timeout)

    def kill(self) -> None:
        """kill -9: no flush, no commit."""
        assert self.proc is not None
        kill_process(self.proc)

    def log(self) -> Path:
        """The log of the latest start."""
        return self.logs[-1]

    def log_text(self) -> str:
        """Every start's log, in order."""
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.exists())


class WorkerProcess(StatusProcess):
    """One `segstream worker` child on the topics `names`, with its own state directory."""

    def __init__(
        self,
        bootstrap: str,
        rules: Path,
        names: Names,
        workdir: Path,
        *,
        partitions: int = 1,
        clock: str = "event",
        extra: Sequence[str] = (),
        env: dict[str, str] | None = None,
        tag: str = "w",
        loglevel: str = "info",
        cwd: Path | None = None,
        python: str = sys.executable,
    ) -> None:
        status_path = workdir / f"{tag}-status.json"
        args = [
            python, "-m", "stream", "worker",
            "--rules", str(rules),
            "--broker", broker_url(bootstrap),
            "--partitions", str(partitions),
            "--state-dir", str(workdir / f"{tag}-state"),
            "--events-topic", names.events,
            "--changes-topic", names.changes,
            "--dlq-topic", names.dlq,
            "--definitions-topic", names.definitions,
            "--app-id", names.app_id,
            "--clock", clock,
            "--status-file", str(status_path),
            "--loglevel", loglevel,
            *extra,
        ]  # fmt: skip
        super().__init__(args, status_path, workdir, tag=tag, env=env, cwd=cwd)
        self.names = names

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> Status:
        """Wait for the first status file: the worker created its topics and runs."""
        self.wait_until(lambda status: status is not None, timeout, "the worker to start")
        status = self.status()
        assert status is not None  # a status file is only ever replaced, never removed
        return status

    def handled(self) -> int:
        """Input messages the worker has finished with, over all its partitions."""
        return handled_in(self.status())


def broker_url(bootstrap: str) -> str:
    """The Faust broker URL of a ``host:port[,host:port...]`` bootstrap list."""
    return ";".join(f"kafka://{host}" for host in bootstrap.split(","))
