"""Stopping children: the signal, the bounded wait, kill -9 past it, and nothing left unreaped."""

from __future__ import annotations

import signal
import subprocess
import sys

from stream.testing.processes import kill_process, stop_process, stop_processes

# Installs its handler, says so, then runs until a signal it does not ignore ends it.
CHILD = """
import signal, sys, time
signal.signal(signal.SIGINT, lambda *_: sys.exit(7))
signal.signal(signal.SIGTERM, signal.SIG_IGN if sys.argv[1] == "ignore" else signal.SIG_DFL)
print("ready", flush=True)
time.sleep(60)
"""


def _child(on_term: str = "default") -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, on_term], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    with proc.stdout:  # nothing more is read from it
        assert proc.stdout.readline() == "ready\n"
    return proc


def test_sigterm_ends_a_child_and_its_status_is_returned() -> None:
    proc = _child()
    assert stop_process(proc, 30) == -signal.SIGTERM


def test_the_signal_is_the_callers() -> None:
    proc = _child()
    assert stop_process(proc, 30, signal.SIGINT) == 7


def test_a_child_that_outlasts_the_wait_is_killed_and_reaped() -> None:
    proc = _child("ignore")
    assert stop_process(proc, 0.2) is None
    assert proc.returncode == -signal.SIGKILL


def test_a_child_that_already_exited_is_not_signalled() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    proc.wait(30)
    assert stop_process(proc, 30) == 3


def test_several_are_each_stopped_or_killed() -> None:
    procs = [_child(), _child("ignore"), _child()]
    assert stop_processes(procs, 0.2, signal.SIGTERM) == [-signal.SIGTERM, None, -signal.SIGTERM]
    assert all(p.returncode is not None for p in procs)


def test_kill_is_kill_9_and_reaps() -> None:
    proc = _child("ignore")
    kill_process(proc)
    assert proc.returncode == -signal.SIGKILL
