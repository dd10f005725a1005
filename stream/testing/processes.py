"""Stopping child processes: a signal, a bounded wait, and kill -9 for one that outlasts it."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Sequence
from typing import Any

Process = subprocess.Popen[Any]


def stop_process(proc: Process, timeout: float, sig: int = signal.SIGTERM) -> int | None:
    """Send `sig` unless `proc` has already exited, and wait `timeout` seconds for it to end.

    Returns its exit status, or None if it had to be killed (it is reaped either way).
    """
    return stop_processes([proc], timeout, sig)[0]


def stop_processes(
    procs: Sequence[Process], timeout: float, sig: int = signal.SIGTERM
) -> list[int | None]:
    """`stop_process` for several at once: all are signalled before any is waited on, so that
    they shut down side by side; each has `timeout` seconds from the start of its wait."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(sig)
    return [_wait_or_kill(proc, timeout) for proc in procs]


def kill_process(proc: Process) -> None:
    """kill -9 and reap: no flush, no commit, no cleanup of any kind."""
    proc.kill()
    proc.wait()


def _wait_or_kill(proc: Process, timeout: float) -> int | None:
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        kill_process(proc)
        return None
