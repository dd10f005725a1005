"""The wall clock the worker runs on (`ports.Clock`); nothing below `stream.app` reads one."""

from __future__ import annotations

import time


def wall_us() -> int:
    """The wall clock in microseconds; read only by `--clock wall` and wall-clock stamps."""
    return time.time_ns() // 1000
