"""`segstream replay`: run the streaming logic over a JSON-lines file, changes to stdout."""

from __future__ import annotations

import gc
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, TypeVar

import click

from stream.cli import progress
from stream.cli.options import jobs_option, setting_option, settings_from
from stream.cli.progress import file_size, track_lines
from stream.cli.replay_jobs import Checks, replayed
from stream.cli.report import Skipped, plural
from stream.core import changes
from stream.core.evaluation.engine import Engine
from stream.core.evaluation.state_limit import StateLimit
from stream.core.language.ast import RuleSet
from stream.core.language.loader import load_file
from stream.core.replay import Counts, Replayer, replay_lines
from stream.core.timefmt import parse_ts
from stream.errors import DefinitionError, InvalidInput
from stream.settings import Settings

EXIT_FAILURE = 1
EXIT_RULES = 2
FREEZE_EVERY = 4096  # input lines between two moves of live objects out of the GC's sight
GC_THRESHOLDS = (10_000, 50, 1000)  # fewer, larger young collections while replaying

_MICROSECOND = timedelta(microseconds=1)

Line = TypeVar("Line")


def gc_friendly(lines: Iterable[Line]) -> Iterator[Line]:
    """`lines`, while keeping the cyclic GC from rescanning replay's state.

    Replay keeps millions of small per-contact containers alive to the end, and nothing
    in them forms cycles. Full collections would traverse all of them again to find
    nothing, which at a million contacts costs more than the engine itself; so every few
    thousand lines the live objects move to the permanent generation (often: after a
    freeze the next full collection comes as soon as a quarter as many new objects
    survive), and young collections run less often. The old thresholds come back after.
    """
    before = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        for number, line in enumerate(lines):
            if number % FREEZE_EVERY == 0:
                gc.freeze()
            yield line
    finally:
        gc.set_threshold(*before)


class _Position:
    """The number of the last line read, for a report of an unexpected failure."""

    line = 0

    def track(self, lines: Iterable[bytes]) -> Iterator[bytes]:
        for number, line in enumerate(lines, start=1):
            self.line = number
            yield line


@click.command("replay")
@click.option(
    "--rules",
    "rules_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Definition file (YAML or JSON).",
)
@click.option(
    "--events",
    "events_path",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="JSON-lines events file, or - for standard input.",
)
@click.option("--until", default=None, help="Advance time to this RFC 3339 instant at the end.")
@jobs_option("Processes to split the contacts over (output grouped by process; see below).")
@setting_option("future_tolerance")
@setting_option("max_message_bytes")
@setting_option("max_state_bytes")
def replay(rules_path: str, events_path: str, until: str | None, jobs: int, **options: Any) -> None:
    """Replay events in file order with event time; print every change as one JSON line.

    Lines the worker would dead-letter are skipped: invalid input, input past the limits
    (the SEGSTREAM_MAX_* settings), a timestamp further than the tolerance after the wall
    clock, or an event that would take its contact's state past the state limit. Standard
    error gets each skipped line with its number and reason, then one line: events read,
    applied, duplicates, skipped by reason, changes out, time taken. Exit status: 0 when it
    ran (even with skipped lines), 2 when the rules do not load, 1 on any other failure.

    With --jobs N the contacts are split by a stable hash of their id over N processes.
    Each contact's changes, and all changes together, are those of --jobs 1; the output
    holds the first process's contacts' changes, then the second's, and so on, each part
    in the order --jobs 1 writes it. Skipped lines are reported in line order at the end.
    """
    settings = settings_from(**options)
    try:
        rules = load_file(rules_path)
    except DefinitionError as error:
        for line in error.lines():
            click.echo(line, err=True)
        sys.exit(EXIT_RULES)
    try:
        until_us = parse_ts(until) if until is not None else None
    except ValueError as error:
        click.echo(f"--until: {error}", err=True)
        sys.exit(EXIT_FAILURE)
    if jobs > 1:
        _run_jobs(rules, settings, events_path, until_us, jobs)
        return
    position = _Position()
    try:
        if events_path == "-":
            _run(rules, settings, position.track(sys.stdin.buffer), until_us, None)
        else:
            with open(events_path, "rb") as source:
                _run(rules, settings, position.track(source), until_us, file_size(source))
    except OSError as error:
        click.echo(f"replay failed: {error}", err=True)
        sys.exit(EXIT_FAILURE)
    except Exception as error:  # a bug, not bad input: say where, without a traceback
        click.echo(
            f"replay failed after line {position.line}: {type(error).__name__}: {error}; "
            "this is a bug in segstream, please report it with that line",
            err=True,
        )
        sys.exit(EXIT_FAILURE)


def _run(
    rules: RuleSet,
    settings: Settings,
    source: Iterable[bytes],
    until_us: int | None,
    size: int | None,
) -> None:
    started = time.perf_counter()
    out = sys.stdout.buffer
    encode = changes.encode
    engine = Engine(
        rules, horizon_us=settings.dedupe_horizon // _MICROSECOND, limits=settings.limits()
    )
    replayer = Replayer(engine, limit=StateLimit(engine, settings.max_state_bytes))
    skipped = Skipped()
    lines = track_lines(source, "replay", size, enabled=progress.wanted(writes_stdout=True))
    written = 0
    found = replay_lines(
        rules,
        gc_friendly(lines),
        until_us,
        on_invalid=skipped,
        replayer=replayer,
        limits=settings.limits(),
        max_bytes=settings.max_message_bytes,
        wall_us=time.time_ns() // 1000,  # for the future check alone, as the worker reads it
        future_tolerance_us=settings.future_tolerance_us(),
    )
    for change in found:
        out.write(encode(change) + b"\n")
        written += 1
    out.flush()
    _summary(replayer.counts, skipped, written, time.perf_counter() - started)


def _run_jobs(
    rules: RuleSet, settings: Settings, events_path: str, until_us: int | None, jobs: int
) -> None:
    started = time.perf_counter()
    checks = Checks(
        horizon_us=settings.dedupe_horizon // _MICROSECOND,
        limits=settings.limits(),
        max_bytes=settings.max_message_bytes,
        max_state_bytes=settings.max_state_bytes,
        wall_us=time.time_ns() // 1000,
        future_tolerance_us=settings.future_tolerance_us(),
    )
    try:
        with (
            _as_file(events_path) as path,
            replayed(
                rules, path, jobs, checks, until_us, progress=progress.wanted(writes_stdout=True)
            ) as outcome,
        ):
            skipped = Skipped()
            for number, reason, detail in outcome.skipped:
                skipped(number, InvalidInput(reason, detail))
            outcome.copy_to(sys.stdout.buffer)
            sys.stdout.buffer.flush()
            written = sum(result.written for result in outcome.results)
            _summary(outcome.counts, skipped, written, time.perf_counter() - started)
    except OSError as error:
        click.echo(f"replay failed: {error}", err=True)
        sys.exit(EXIT_FAILURE)


@contextmanager
def _as_file(events_path: str) -> Iterator[str]:
    """A path to the events: standard input is copied to a file first, as every job reads all."""
    if events_path != "-":
        yield events_path
        return
    with tempfile.NamedTemporaryFile(prefix="segstream-stdin-", suffix=".jsonl") as copy:
        shutil.copyfileobj(sys.stdin.buffer, copy, 1 << 20)
        copy.flush()
        yield copy.name


def _summary(counts: Counts, skipped: Skipped, written: int, took: float) -> None:
    """One line on standard error: events read and how each ended, changes out, time taken."""
    read = counts.applied + counts.duplicate + counts.invalid
    click.echo(
        f"replay: read {plural(read, 'event')} in {took:.1f} s: {counts.applied:,} applied, "
        f"{plural(counts.duplicate, 'duplicate')}, {skipped.summary()}; "
        f"{plural(written, 'change')} out",
        err=True,
    )


command = replay
