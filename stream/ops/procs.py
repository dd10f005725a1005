"""Process liveness by pid, for services that outlive the command that started them."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (a zombie has already exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        # The state letter follows the parenthesised command name, which may hold spaces.
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    if stat.rpartition(")")[2].split()[:1] == ["Z"]:
        _reap(pid)
        return False
    return True


def process_cmdline(pid: int) -> str:
    """The command line of `pid` with arguments joined by spaces; empty if unknown."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait up to `timeout` seconds for `pid` to exit; True if it did."""
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        _reap(pid)
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def _reap(pid: int) -> None:
    # Only our own children can be reaped; for anyone else's this is a no-op.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
