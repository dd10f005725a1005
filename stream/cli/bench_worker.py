"""`segstream bench worker`: the worker's end-to-end throughput and latency on a real broker."""

from __future__ import annotations

import statistics
from pathlib import Path

import click

from stream.bench.worker import ceiling, latency, throughput
from stream.cli.bench import (
    bench,
    failures_reported,
    stream_options,
    workdir_option,
    worker_bench_input,
    worker_options,
)


@bench.command("worker")
@stream_options(events=1_000_000)
@worker_options
@click.option("--latency-seconds", default=30.0, show_default=True)
@workdir_option
def bench_worker(
    contacts: int,
    events: int,
    seed: int,
    rules: Path,
    partitions: int,
    latency_seconds: float,
    workdir: str,
) -> None:
    """Throughput and latency of the worker on the broker at SEGSTREAM_BROKER."""
    bootstrap, work, lines = worker_bench_input(contacts, events, seed, workdir, partitions, rules)
    with failures_reported():
        top = ceiling(bootstrap, lines, partitions, work)
        click.echo(f"bare Faust agent, decode only: {top:,.0f} events/s")
        fixed = ceiling(bootstrap, lines, partitions, work, "patched")
        click.echo(
            f"bare Faust agent with segstream's Faust fast path, stream buffer and GC setting: "
            f"{fixed:,.0f} events/s"
        )
        e2e, processing, changes = throughput(bootstrap, lines, rules, partitions, work)
        click.echo(
            f"worker, backfill (--clock event): {e2e:,.0f} events/s end to end "
            f"(first produce to last change), {processing:,.0f} events/s applied, "
            f"{changes:,} changes; {processing / top:.2f} of the ceiling "
            f"({processing / fixed:.2f} of the patched agent: the rest is the worker's own work)"
        )
        rate = e2e / 2
        lat = latency(bootstrap, lines, rules, partitions, rate, latency_seconds, work)
    if len(lat) < 2:
        raise click.ClickException("too few changes to measure latency")
    cuts = statistics.quantiles(lat, n=100)
    click.echo(
        f"worker, live (--clock wall) at {rate:,.0f} events/s: event-to-change latency "
        f"p50 {cuts[49] * 1000:.0f} ms, p99 {cuts[98] * 1000:.0f} ms over {len(lat):,} changes"
    )
