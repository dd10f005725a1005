"""`segstream bench switch`'s measurements: a rule change on a worker with a long history.

One worker, on the event clock, applies the history under version A (the example rules);
a burst of live events shows its throughput with nothing else to do; `rules preview` of B
(`stream.testing.versions`) is timed against the topic; then B is published with a second
burst of the same size right behind it, and the worker's log lines and status file give,
per partition, the rebuild and the switch, and the live throughput while it rebuilt.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from stream.app.admin import ensure_topics
from stream.bench import BenchFailed
from stream.cli.produce import produce_lines
from stream.testing import EXAMPLE_RULES
from stream.testing.versions import version_b_text
from stream.testing.worker import Names, WorkerProcess, broker_url

LONGEST_RUN_S = 3600.0
PUBLISH_TIMEOUT_S = 120.0
POLL_S = 0.2
SWITCHED = re.compile(
    r"partition (\d+) switched to version \S+ at \S+: (\d+) changes with reason rules "
    r"\((\d+) records rebuilt, switch ([0-9.]+) s\)"
)


@dataclass(frozen=True, slots=True)
class Rate:
    """Events applied over a stretch of wall time."""

    events: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.events / max(self.seconds, 1e-9)


@dataclass(frozen=True, slots=True)
class Switched:
    """One partition's switch, as its log line and the bench's clock saw it."""

    partition: int
    changes: int
    records: int
    switch_s: float  # the switch itself, under the lock, as the worker timed it
    after_publish_s: float  # when the bench saw the line, from the publish


@dataclass(frozen=True, slots=True)
class Previewed:
    jobs: int
    seconds: float


@dataclass(frozen=True, slots=True)
class SwitchRun:
    history: Rate  # the backfill of the history under A
    alone: Rate  # a live burst with no rebuild
    previews: list[Previewed]
    switched: list[Switched]  # in the order the partitions switched
    during: Rate  # the same burst while the partitions rebuilt
    burst_done_before_switch: bool  # the whole burst applied before the last switch

    @property
    def rebuild_s(self) -> float:
        """From the publish to the last partition's switch."""
        return max(s.after_publish_s for s in self.switched)


def run(
    bootstrap: str,
    lines: list[bytes],
    partitions: int,
    burst: int,
    preview_jobs: Sequence[int],
    work: Path,
) -> SwitchRun:
    """The whole measurement on fresh topics; the worker is stopped whatever happens."""
    if len(lines) <= 2 * burst:
        raise BenchFailed(f"a burst of {burst:,} events needs more than {2 * burst:,} events")
    history, first, second = lines[: -2 * burst], lines[-2 * burst : -burst], lines[-burst:]
    run_id = f"switch-{os.getpid()}-{int(time.time())}"
    names = Names(f"bench-{run_id}")
    version_b = work / f"{run_id}-b.yaml"
    version_b.write_text(version_b_text())
    asyncio.run(ensure_topics(bootstrap, [names.events, names.changes], partitions))
    worker = WorkerProcess(
        bootstrap, EXAMPLE_RULES, names, work, partitions=partitions, clock="event",
        tag=run_id, loglevel="info",
    )  # fmt: skip
    worker.start().wait_ready()
    try:
        applied = _Applied(bootstrap, worker)
        backfill = applied.fed(history)
        alone = applied.fed(first)
        previews = [_preview(bootstrap, names, version_b, jobs) for jobs in preview_jobs]
        published = time.monotonic()
        _publish(bootstrap, names, version_b)
        during, switched = applied.fed_while_switching(second, partitions, published)
    finally:
        worker.stop()
    last = max(s.after_publish_s for s in switched)
    return SwitchRun(backfill, alone, previews, switched, during, during.seconds <= last)


class _Applied:
    """What the worker has applied, from its status file, as bursts are fed to it."""

    def __init__(self, bootstrap: str, worker: WorkerProcess) -> None:
        self.bootstrap = bootstrap
        self.worker = worker
        self.total = 0

    def fed(self, lines: list[bytes]) -> Rate:
        """Produce `lines` and wait until all are applied; from the first send."""
        began = time.monotonic()
        asyncio.run(produce_lines(self.bootstrap, self.worker.names.events, lines))
        self.total += len(lines)
        self.worker.wait_until(
            lambda _: self.worker.handled() >= self.total, LONGEST_RUN_S, "the worker"
        )
        return Rate(len(lines), time.monotonic() - began)

    def fed_while_switching(
        self, lines: list[bytes], partitions: int, published: float
    ) -> tuple[Rate, list[Switched]]:
        """Produce `lines` (in a thread) while watching the log for every partition's
        switch; the burst's rate counts only up to the last switch."""
        before, began = self.total, time.monotonic()
        sender = threading.Thread(
            target=lambda: asyncio.run(
                produce_lines(self.bootstrap, self.worker.names.events, lines)
            )
        )
        sender.start()
        self.total += len(lines)
        seen: dict[int, Switched] = {}
        done_at: float | None = None
        applied_at_last_switch = 0
        deadline = began + LONGEST_RUN_S
        while len(seen) < partitions or done_at is None:
            if time.monotonic() > deadline or not self.worker.alive():
                raise BenchFailed(f"the switch did not complete; see {self.worker.log()}")
            handled = self.worker.handled()
            if done_at is None and handled >= self.total:
                done_at = time.monotonic()
            for match in SWITCHED.finditer(self.worker.log_text()):
                number = int(match[1])
                if number not in seen:
                    seen[number] = Switched(
                        number, int(match[2]), int(match[3]), float(match[4]),
                        time.monotonic() - published,
                    )  # fmt: skip
                    if len(seen) == partitions:
                        applied_at_last_switch = handled - before
            time.sleep(POLL_S)
        sender.join()
        last_switch = published + max(s.after_publish_s for s in seen.values())
        if done_at <= last_switch:
            during = Rate(len(lines), done_at - began)
        else:
            during = Rate(applied_at_last_switch, last_switch - began)
        return during, sorted(seen.values(), key=lambda s: s.after_publish_s)


def _preview(bootstrap: str, names: Names, version_b: Path, jobs: int) -> Previewed:
    """`segstream rules preview B` against the topic's history, as a user runs it."""
    began = time.monotonic()
    _rules(bootstrap, names, LONGEST_RUN_S, "preview", str(version_b), "--json",
           "--jobs", str(jobs), "--events-topic", names.events)  # fmt: skip
    return Previewed(jobs, time.monotonic() - began)


def _publish(bootstrap: str, names: Names, version_b: Path) -> None:
    _rules(bootstrap, names, PUBLISH_TIMEOUT_S, "publish", str(version_b))


def _rules(bootstrap: str, names: Names, timeout: float, command: str, *args: str) -> None:
    """`segstream rules COMMAND ARGS` on `names`' definitions topic; it must succeed."""
    done = subprocess.run(
        [sys.executable, "-m", "stream", "rules", command, *args,
         "--broker", broker_url(bootstrap), "--topic", names.definitions],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace")[-500:]
        raise BenchFailed(f"rules {command} failed: {why}")
