"""CPU time of the processes a bench runs and of the whole machine, read from Linux's /proc."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU seconds process `pid` has used so far (None if unknown)."""
    try:
        # The fields after the parenthesised command name, which may hold spaces.
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_busy_seconds() -> float | None:
    """CPU seconds every core of the machine has spent busy since boot (None if unknown)."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return None
    ticks = [int(n) for n in first[1:]]
    idle = ticks[3] + ticks[4]  # idle and iowait
    # guest and guest_nice (fields 9 and 10) are already counted in user and nice.
    return (sum(ticks[:8]) - idle) / TICK


def listening_pid(port: int) -> int | None:
    """The process listening on TCP `port` on this machine (the local dev broker), if any."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:  # LISTEN
                inodes.add(cols[9])
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            links = {os.readlink(fd) for fd in (proc / "fd").iterdir()}
        except OSError:
            continue
        if any(f"socket:[{inode}]" in links for inode in inodes):
            return int(proc.name)
    return None


@dataclass(frozen=True, slots=True)
class Shares:
    """CPU used over one interval: seconds per named process, and by the whole machine."""

    wall: float
    cores: int
    used: dict[str, float]  # CPU seconds per process name
    machine: float | None  # CPU seconds all cores were busy, every process included

    def line(self) -> str:
        """Each process's share of the machine's capacity (wall time x cores), then the rest."""
        capacity = self.wall * self.cores
        parts = [f"{name} {seconds / capacity:.0%}" for name, seconds in self.used.items()]
        if self.machine is not None:
            rest = max(0.0, self.machine - sum(self.used.values()))
            parts.append(f"everything else {rest / capacity:.0%}")
            parts.append(f"idle {max(0.0, capacity - self.machine) / capacity:.0%}")
        return f"CPU of {self.cores} cores over {self.wall:.0f} s: " + ", ".join(parts)


class CpuWatch:
    """CPU seconds of some processes and of the machine from `start` to `stop`."""

    def __init__(self) -> None:
        self._pids: dict[str, int] = {}
        self._before: dict[str, float] = {}
        self._machine: float | None = None
        self._started = 0.0

    def start(self, pids: Mapping[str, int | None]) -> None:
        """Start counting the named processes (a None pid is left out)."""
        self._pids = {name: pid for name, pid in pids.items() if pid is not None}
        self._before = {name: cpu_seconds(pid) or 0.0 for name, pid in self._pids.items()}
        self._machine = machine_busy_seconds()
        self._started = time.monotonic()

    def add(self, name: str, pid: int) -> None:
        """Count one more process from now, e.g. one started after `start`."""
        self._pids[name] = pid
        self._before[name] = cpu_seconds(pid) or 0.0

    def stop(self, extra: Mapping[str, float] = {}) -> Shares:
        """What each process used since it was counted; `extra` adds processes that already
        ended and reported their own CPU seconds."""
        wall = time.monotonic() - self._started
        used = {
            name: (cpu_seconds(pid) or self._before[name]) - self._before[name]
            for name, pid in self._pids.items()
        }
        used.update(extra)
        busy = machine_busy_seconds()
        machine = None if busy is None or self._machine is None else busy - self._machine
        return Shares(wall, os.cpu_count() or 1, used, machine)
