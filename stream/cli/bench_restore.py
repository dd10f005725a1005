"""`segstream bench restore`: a full restore of the worker's table from its changelog."""

from __future__ import annotations

from pathlib import Path

import click

from stream.bench.restore import Restored, fill, load, raw_read, restore
from stream.cli.bench import (
    bench,
    failures_reported,
    stream_options,
    workdir_option,
    worker_bench_input,
    worker_options,
)


def _line(what: str, records: int, seconds: float) -> str:
    return f"{what}: {seconds:,.1f} s, {records / seconds:,.0f} records/s ({load()})"


@bench.command("restore")
@stream_options(events=1_000_000)
@worker_options
@click.option("--repeat", default=1, show_default=True, help="Restores of each kind, in turn.")
@click.option(
    "--baseline",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Another checkout (with its .venv) whose worker restores the same changelog too.",
)
@workdir_option
def bench_restore(
    contacts: int,
    events: int,
    seed: int,
    rules: Path,
    partitions: int,
    repeat: int,
    baseline: Path | None,
    workdir: str,
) -> None:
    """Full restore time of the worker's table on the broker at SEGSTREAM_BROKER."""
    bootstrap, work, lines = worker_bench_input(contacts, events, seed, workdir, partitions, rules)
    with failures_reported():
        filled = fill(bootstrap, lines, rules, partitions, work)
        records = filled.records
        click.echo(f"backfilled; the changelog {filled.changelog} holds {records:,} records")
        raw = raw_read(bootstrap, filled)
        click.echo(_line("raw aiokafka read of the changelog", records, raw))
        for _ in range(repeat):
            done = restore(bootstrap, filled, rules, partitions, work)
            click.echo(_restored("full restore, this checkout", records, done))
            if baseline is not None:
                python = str(baseline.resolve() / ".venv" / "bin" / "python")
                done = restore(
                    bootstrap, filled, rules, partitions, work, python=python, cwd=baseline
                )
                click.echo(_restored(f"full restore, baseline {baseline}", records, done))


def _restored(what: str, records: int, done: Restored) -> str:
    cpu = "" if done.cpu is None else f", {done.cpu:,.1f} CPU s"
    same = "" if done.same else "; NOT the counts and deadlines it had before the stop"
    return _line(what, records, done.seconds) + cpu + same
