"""`segstream bench replay`'s measurements: bare decoding, validation and replay of one file.

Each one runs in a child process of its own (`python -m stream.bench.replay DATA RULES`), so
that its peak memory is its own; that is also why this module imports at the top only what
every child needs. Times are CPU time, not wall time: the machine may be shared, and every
measurement is taken alike.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import orjson

from stream.bench import BenchFailed

VALIDATE_ONLY = ":validate"  # `measure` mode: decode and validate every line, apply nothing


def rule_sets(work: Path, wide: int) -> list[tuple[str, Path]]:
    """The rule sets replay is timed with, as (label, definition file written into `work`)."""
    from stream.testing import EXAMPLE_RULES
    from stream.testing.rulesets import minimal_rules, wide_rules

    wide_path = work / f"wide-{wide}.json"
    wide_path.write_bytes(orjson.dumps(wide_rules(wide)))
    minimal_path = work / "minimal.json"
    minimal_path.write_bytes(orjson.dumps(minimal_rules()))
    return [
        ("one trait segment (near the fastest any rule set runs)", minimal_path),
        ("example rules", EXAMPLE_RULES),
        (f"{wide}-segment rules", wide_path),
    ]


def measure(data: Path, rules: Path | str | None) -> dict[str, Any]:
    """Time bare decoding (`rules` None), VALIDATE_ONLY, or a replay with a definition file.

    The figures: `rate` (events/s of CPU time), `events`, `rss_mib` (the child's peak), and
    for a replay `changes`, `contacts` and `state_bytes_per_contact`.
    """
    args = [sys.executable, "-m", "stream.bench.replay", str(data), str(rules or "")]
    child = subprocess.Popen(args, stdout=subprocess.PIPE)
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise BenchFailed(f"measurement failed with exit status {child.returncode}")
    stats: dict[str, Any] = json.loads(output)
    stats["rss_mib"] = usage.ru_maxrss / 1024
    return stats


def timed_replay(data: Path, rules: Path, jobs: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of every process) of `segstream replay --jobs JOBS` over
    `data`, its output discarded: the parallel replay's speed-up is a wall-clock figure."""
    return _timed([_replay_command(data, rules, jobs)], f"replay --jobs {jobs}")


def split_by_owner(data: Path, jobs: int) -> list[Path]:
    """`data` split beside it into one file per job of `replay --jobs JOBS`, each line in the
    file of the job that owns it (`stream.core.shards.route`), in file order; cached."""
    from stream.core.shards import route

    parts = [data.with_name(f"{data.stem}.job-{i}-of-{jobs}.jsonl") for i in range(jobs)]
    if all(part.exists() for part in parts):
        return parts
    partial = [part.with_suffix(".partial") for part in parts]
    files = [open(path, "wb") for path in partial]  # noqa: SIM115 - closed below, all at once
    try:
        with open(data, "rb") as source:
            for line in source:
                files[route(line, jobs)[0]].write(line)
    finally:
        for file in files:
            file.close()
    for done, part in zip(partial, parts, strict=True):
        done.replace(part)
    return parts


def timed_split(parts: list[Path], rules: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one `segstream replay --jobs 1` per part, all at once:
    what `--jobs len(parts)` could take at best here if routing the lines cost the jobs
    nothing (each part replayed alone keeps its own clock, so only the time is comparable)."""
    return _timed([_replay_command(part, rules, 1) for part in parts], "replay of a split part")


def _timed(commands: list[list[str]], what: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of every process) of `commands` run all at once, their
    output discarded; BenchFailed, with the end of its standard error, if one fails."""
    with ExitStack() as stack:
        logs = [stack.enter_context(tempfile.TemporaryFile()) for _ in commands]  # no pipe fills
        before = _children_cpu()
        began = time.monotonic()
        children = [
            subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
            for command, log in zip(commands, logs, strict=True)
        ]
        for child in children:
            child.wait()
        wall = time.monotonic() - began
        for child, log in zip(children, logs, strict=True):
            if child.returncode != 0:
                log.seek(0)
                detail = log.read().decode(errors="replace")[-300:]
                raise BenchFailed(f"{what} failed: {detail}")
    return wall, _children_cpu() - before


def _replay_command(data: Path, rules: Path, jobs: int) -> list[str]:
    """`segstream replay` of `data` under `rules` in `jobs` processes, as a child command."""
    replay = [sys.executable, "-m", "stream", "replay", "--rules", str(rules)]
    return [*replay, "--events", str(data), "--jobs", str(jobs)]


def _children_cpu() -> float:
    """CPU seconds of every reaped child so far (a replay's jobs are its children)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_measurement(data: str, rules: str) -> dict[str, Any]:
    """Child side of `measure` (`rules` "" for bare decoding)."""
    if not rules:
        return _decode(data)
    if rules == VALIDATE_ONLY:
        return _validate(data)
    return _replay(data, rules)


def _decode(data: str) -> dict[str, Any]:
    loads = orjson.loads
    with open(data, "rb") as source:
        start = time.process_time()
        count = 0
        for line in source:
            loads(line)
            count += 1
        elapsed = time.process_time() - start
    return {"rate": count / elapsed, "events": count}


def _validate(data: str) -> dict[str, Any]:
    from stream.core.events import decode_event
    from stream.errors import InvalidInput

    with open(data, "rb") as source:
        start = time.process_time()
        count = 0
        for line in source:
            try:  # noqa: SIM105 - contextlib.suppress costs a context manager per line
                decode_event(line)
            except InvalidInput:
                pass
            count += 1
        elapsed = time.process_time() - start
    return {"rate": count / elapsed, "events": count}


def _replay(data: str, rules: str) -> dict[str, Any]:
    from stream.cli.replay import gc_friendly
    from stream.core.evaluation.engine import Engine
    from stream.core.evaluation.state_limit import StateLimit
    from stream.core.language.loader import load_file
    from stream.core.replay import Replayer, replay_lines
    from stream.settings import Settings

    ruleset = load_file(rules)
    engine = Engine(ruleset)
    # The state limit as `segstream replay` keeps it: its cost is part of replay's.
    replayer = Replayer(engine, limit=StateLimit(engine, Settings().max_state_bytes))
    changes = 0
    with open(data, "rb") as source:
        start = time.process_time()
        for _ in replay_lines(ruleset, gc_friendly(source), replayer=replayer):
            changes += 1
        elapsed = time.process_time() - start
    counts = replayer.counts
    events = counts.applied + counts.duplicate + counts.invalid
    snapshot = replayer.engine.snapshot
    state_bytes = sum(len(snapshot(state)) for state in replayer.states.values())
    contacts = len(replayer.states)
    return {
        "rate": events / elapsed,
        "events": events,
        "changes": changes,
        "contacts": contacts,
        "state_bytes_per_contact": state_bytes / max(contacts, 1),
    }


if __name__ == "__main__":
    print(json.dumps(run_measurement(sys.argv[1], sys.argv[2])))
