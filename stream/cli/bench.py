"""`segstream bench replay`: replay throughput, memory and state size against the decode floor."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from stream.bench import BenchFailed
from stream.bench.data import cached_stream, stream_lines
from stream.bench.replay import (
    VALIDATE_ONLY,
    measure,
    rule_sets,
    split_by_owner,
    timed_replay,
    timed_split,
)
from stream.settings import Settings
from stream.testing import EXAMPLE_RULES
from stream.testing.worker import ChildExited

F = TypeVar("F", bound=Callable[..., Any])


def stream_options(events: int) -> Callable[[F], F]:
    """--contacts, --events and --seed of the generated stream a bench measures."""

    def apply(command: F) -> F:
        command = click.option("--seed", default=1, show_default=True)(command)
        command = click.option("--events", default=events, show_default=True)(command)
        return click.option("--contacts", default=1_000_000, show_default=True)(command)

    return apply


def worker_options(f: F) -> F:
    """`--rules` (the example rules by default) and `--partitions`: the worker a bench runs."""
    f = click.option("--partitions", default=4, show_default=True)(f)
    return click.option(
        "--rules",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        default=EXAMPLE_RULES,
        show_default=True,
    )(f)


def worker_bench_input(
    contacts: int, events: int, seed: int, workdir: str, partitions: int, rules: Path
) -> tuple[str, Path, list[bytes]]:
    """The broker at SEGSTREAM_BROKER, the work directory and the generated stream (cached
    there) that a worker bench runs on, said in one line."""
    work = Path(workdir)
    lines = stream_lines(cached_stream(work, contacts, events, seed, click.echo))
    click.echo(f"{len(lines):,} events, {partitions} partitions, rules {rules}")
    return Settings.from_env().bootstrap_servers(), work, lines


workdir_option = click.option(
    "--workdir",
    default=os.path.join(tempfile.gettempdir(), "segstream-bench"),
    show_default=True,
    help="Where the generated stream is cached between runs.",
)


@contextmanager
def failures_reported() -> Iterator[None]:
    """A measurement that cannot be taken ends the command with its reason, no traceback."""
    try:
        yield
    except (BenchFailed, ChildExited, TimeoutError) as error:
        raise click.ClickException(str(error)) from None


@click.group("bench")
def bench() -> None:
    """Benchmarks that print figures (none of them is a test)."""


@bench.command("replay")
@stream_options(events=5_000_000)
@click.option(
    "--segments",
    "wide",
    default=100,
    show_default=True,
    help="Size of the synthetic wide rule set measured beside the example rules.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=2),
    default=None,
    help="Also time `segstream replay --jobs 1`, `--jobs N`, and N replays of the file split "
    "by owner beforehand, all at once (the best a split can do here); wall clock, one after "
    "the other (with --rounds, in turn).",
)
@click.option(
    "--rounds",
    default=1,
    show_default=True,
    help="Rounds of the --jobs runs (each: --jobs 1, --jobs N, the split).",
)
@workdir_option
def bench_replay(
    contacts: int, events: int, seed: int, wide: int, jobs: int | None, rounds: int, workdir: str
) -> None:
    """Generate a stream, then time a bare orjson.loads loop and replay over the same file."""
    work = Path(workdir)
    data = cached_stream(work, contacts, events, seed, click.echo)
    click.echo(f"stream: {data} ({data.stat().st_size / 2**20:.0f} MiB)")
    with failures_reported():
        floor = measure(data, None)
        click.echo(
            f"bare orjson.loads: {floor['rate']:,.0f} events/s (CPU), "
            f"peak RSS {floor['rss_mib']:.0f} MiB"
        )
        checked = measure(data, VALIDATE_ONLY)
        click.echo(
            f"decode + validate each event, no rules: {checked['rate']:,.0f} events/s (CPU) "
            f"({checked['rate'] / floor['rate']:.3f} of bare decode; no replay can beat this)"
        )
        for label, rules in rule_sets(work, wide):
            stats = measure(data, rules)
            click.echo(
                f"replay, {label}: {stats['rate']:,.0f} events/s (CPU) "
                f"({stats['rate'] / floor['rate']:.3f} of bare decode), "
                f"peak RSS {stats['rss_mib']:.0f} MiB, "
                f"state {stats['state_bytes_per_contact']:.0f} B/contact over "
                f"{stats['contacts']:,} contacts, {stats['changes']:,} changes"
            )
        if jobs:
            _time_jobs(data, jobs, rounds)


def _time_jobs(data: Path, jobs: int, rounds: int) -> None:
    """`replay --jobs 1` against `--jobs N` and against the best a split could do, per round."""
    click.echo(f"splitting the stream by owner into {jobs} files (for the perfect split) ...")
    parts = split_by_owner(data, jobs)
    for _ in range(rounds):
        one, one_cpu = timed_replay(data, EXAMPLE_RULES, 1)
        many, many_cpu = timed_replay(data, EXAMPLE_RULES, jobs)
        best, best_cpu = timed_split(parts, EXAMPLE_RULES)
        click.echo(
            f"replay --jobs 1: {one:,.1f} s wall ({one_cpu:,.1f} s CPU); --jobs {jobs}: "
            f"{many:,.1f} s wall ({many_cpu:,.1f} s CPU): {one / many:.2f}x; "
            f"perfect split ({jobs} replays of the parts at once): {best:,.1f} s wall "
            f"({best_cpu:,.1f} s CPU): {one / best:.2f}x "
            f"(load average {os.getloadavg()[0]:.1f})"
        )


command = bench
