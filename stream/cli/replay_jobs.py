"""Replay split over processes: contacts by a stable hash, one job each, rounds to a fixed point.

Each job reads the whole file (`stream.core.shards` says why), writes its changes to a file
of its own and sends back its counts, its skipped lines and its anomalies. When the
anomalies are those the round was told of, the result is the one-job result; the parent then
copies the jobs' files out in job order. Output order: every change of job 0's contacts, then
job 1's, and so on; within a job, the order one job would have written them in. So each
contact's changes, and the set of all changes, are those of `--jobs 1`.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import BinaryIO

from stream.cli.progress import file_size, track_lines
from stream.core import changes
from stream.core.evaluation.engine import Engine
from stream.core.evaluation.state_limit import StateLimit
from stream.core.language.ast import RuleSet
from stream.core.limits import DEFAULT_LIMITS, Limits
from stream.core.replay import Counts, Replayer
from stream.core.shards import Shard, replay_shard
from stream.errors import InvalidInput

MAX_ROUNDS = 8  # beyond this, one job is quicker than another round of all of them
OUTPUT_BUFFER = 1 << 20  # bytes a job writes its changes file in: fewer system calls


@dataclass(frozen=True, slots=True)
class Checks:
    """The worker's checks a replay applies (the replay command's settings, read once)."""

    horizon_us: int
    limits: Limits = DEFAULT_LIMITS
    max_bytes: int | None = None
    max_state_bytes: int | None = None
    wall_us: int | None = None
    future_tolerance_us: int | None = None


@dataclass(frozen=True, slots=True)
class Job:
    """What one process replays: job `index` of `jobs` over `events_path`."""

    rules: RuleSet
    events_path: str
    index: int
    jobs: int
    checks: Checks
    until_us: int | None
    known: frozenset[int]
    output: str | None  # where its changes go; None: kept as end memberships instead
    progress: bool = False


@dataclass(slots=True)
class JobResult:
    counts: Counts
    written: int = 0
    skipped: list[tuple[int, str, str]] = field(default_factory=list)  # line, reason, detail
    anomalies: frozenset[int] = frozenset()
    members: dict[str, list[str]] = field(default_factory=dict)  # segment -> contact ids
    first: int | None = None  # the earliest and latest timestamps of valid events
    last: int | None = None


def run_job(job: Job) -> JobResult:
    """Replay one job's share (in a child process); see the module docstring."""
    from stream.cli.replay import gc_friendly  # that module imports this one

    checks = job.checks
    engine = Engine(job.rules, horizon_us=checks.horizon_us, limits=checks.limits)
    limit = None if checks.max_state_bytes is None else StateLimit(engine, checks.max_state_bytes)
    shard = Shard(Replayer(engine, limit=limit), job.index, job.jobs, job.known)
    result = JobResult(shard.replayer.counts)

    def skipped(number: int, error: InvalidInput) -> None:
        result.skipped.append((number, error.reason, error.detail))

    with open(job.events_path, "rb") as source:
        lines = track_lines(source, "replay", file_size(source), enabled=job.progress)
        found = replay_shard(
            shard,
            gc_friendly(lines),
            job.until_us,
            on_invalid=skipped,
            limits=checks.limits,
            max_bytes=checks.max_bytes,
            wall_us=checks.wall_us,
            future_tolerance_us=checks.future_tolerance_us,
        )
        if job.output is None:
            for _ in found:
                pass
            result.members = _members(shard.replayer)
        else:
            with open(job.output, "wb", buffering=OUTPUT_BUFFER) as out:
                encode = changes.encode
                for change in found:
                    out.write(encode(change) + b"\n")
                    result.written += 1
    result.anomalies = frozenset(shard.anomalies)
    result.first, result.last = shard.first, shard.replayer.now
    return result


def _members(replayer: Replayer) -> dict[str, list[str]]:
    members: dict[str, list[str]] = {}
    for contact, state in replayer.states.items():
        for segment in state.members:
            members.setdefault(segment, []).append(contact)
    return members


@dataclass(slots=True)
class Outcome:
    """The jobs' results of the round that reached the fixed point, and its job files."""

    results: list[JobResult]
    outputs: list[str]
    rounds: int

    @property
    def counts(self) -> Counts:
        total = Counts()
        for result in self.results:
            for name in (one.name for one in fields(Counts)):
                setattr(total, name, getattr(total, name) + getattr(result.counts, name))
        return total

    @property
    def skipped(self) -> list[tuple[int, str, str]]:
        return sorted(line for result in self.results for line in result.skipped)

    def copy_to(self, out: BinaryIO) -> None:
        for path in self.outputs:
            with open(path, "rb") as source:
                shutil.copyfileobj(source, out, 1 << 20)


@contextmanager
def replayed(
    rules: RuleSet,
    events_path: str,
    jobs: int,
    checks: Checks,
    until_us: int | None = None,
    *,
    keep_changes: bool = True,
    progress: bool = False,
) -> Iterator[Outcome]:
    """Replay `events_path` in `jobs` processes; the job files live as long as the context.

    With `keep_changes` false the jobs keep their end memberships (`JobResult.members`)
    instead of writing changes.
    """
    with tempfile.TemporaryDirectory(prefix="segstream-replay-") as work:
        outputs = [os.path.join(work, f"job-{i}.jsonl") for i in range(jobs)]
        known: frozenset[int] = frozenset()
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            for rounds in range(1, MAX_ROUNDS + 1):
                batch = [
                    Job(
                        rules,
                        events_path,
                        i,
                        jobs,
                        checks,
                        until_us,
                        known,
                        outputs[i] if keep_changes else None,
                        progress and i == 0,
                    )
                    for i in range(jobs)
                ]
                results = list(pool.map(run_job, batch) if jobs > 1 else map(run_job, batch))
                found = _union(result.anomalies for result in results)
                if found == known:
                    yield Outcome(results, outputs if keep_changes else [], rounds)
                    return
                known = found
        # No fixed point within MAX_ROUNDS: one job needs none.
        output = outputs[0] if keep_changes else None
        single = Job(rules, events_path, 0, 1, checks, until_us, frozenset(), output, progress)
        yield Outcome([run_job(single)], outputs[:1] if keep_changes else [], MAX_ROUNDS + 1)


def _union(sets: Iterator[frozenset[int]] | Sequence[frozenset[int]]) -> frozenset[int]:
    found: set[int] = set()
    for one in sets:
        found |= one
    return frozenset(found)
