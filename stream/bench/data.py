"""The generated event stream the benchmarks measure, cached between runs."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from stream.core.timefmt import format_ts
from stream.testing.generate import FIXED_START_US


def cached_stream(
    work: Path, contacts: int, events: int, seed: int, say: Callable[[str], None]
) -> Path:
    """The `segstream generate` file for these figures in `work`, generated if not there yet."""
    work.mkdir(parents=True, exist_ok=True)
    data = work / f"events-{contacts}-{events}-{seed}.jsonl"
    if not data.exists():
        say(f"generating {events:,} events for {contacts:,} contacts -> {data}")
        # Written under another name first, so that an interrupted run leaves no stream
        # that a later run would take for complete.
        partial = data.with_suffix(".partial")
        args = ["generate", "--contacts", str(contacts), "--events", str(events)]
        # A fixed start: the file name says everything the stream depends on.
        args += ["--seed", str(seed), "--start", format_ts(FIXED_START_US), "-o", str(partial)]
        subprocess.run([sys.executable, "-m", "stream", *args], check=True)
        partial.rename(data)
    return data


def stream_lines(data: Path) -> list[bytes]:
    """The events of a stream file, one JSON document each."""
    return [line for line in data.read_bytes().splitlines() if line.strip()]
