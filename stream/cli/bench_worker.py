"""`segstream bench worker`: the worker's end-to-end throughput and latency on a real broker."""

from __future__ import annotations

import statistics
from pathlib import Path

import click

from stream.bench.data import cached_stream
from stream.bench.restore import load
from stream.bench.scrape import BATCH, E2C
from stream.bench.worker import LOAD_NICE, Live, ceiling, latency, throughput
from stream.cli.bench import (
    bench,
    failures_reported,
    stream_options,
    workdir_option,
    worker_bench_input,
    worker_options,
)

SLICES = 3  # the live run's p99 is also shown for each third of it, to show how steady it is


@bench.command("worker")
@stream_options(events=1_000_000)
@worker_options
@click.option("--latency-seconds", default=30.0, show_default=True)
@click.option(
    "--rate",
    type=float,
    default=None,
    help="Events/s of the live run; skips the ceiling and backfill runs (default: half the "
    "backfill rate, measured first).",
)
@click.option(
    "--load-nice",
    default=LOAD_NICE,
    show_default=True,
    help="Niceness of the live run's producer and consumer, which stand for clients on "
    "other machines.",
)
@click.option("--repeat", default=1, show_default=True, help="Live runs, one after the other.")
@click.option(
    "--baseline",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Another checkout whose worker runs each live run too, in turn with this one's.",
)
@workdir_option
def bench_worker(
    contacts: int,
    events: int,
    seed: int,
    rules: Path,
    partitions: int,
    latency_seconds: float,
    rate: float | None,
    load_nice: int,
    repeat: int,
    baseline: Path | None,
    workdir: str,
) -> None:
    """Throughput and latency of the worker on the broker at SEGSTREAM_BROKER."""
    bootstrap, work, lines = worker_bench_input(contacts, events, seed, workdir, partitions, rules)
    data = cached_stream(work, contacts, events, seed, click.echo)
    with failures_reported():
        if rate is None:
            rate = _throughput(bootstrap, lines, rules, partitions, work) / 2
        checkouts: list[Path | None] = [None] if baseline is None else [None, baseline.resolve()]
        for _ in range(repeat):
            for checkout in checkouts:
                live = latency(
                    bootstrap, data, rules, partitions, rate, latency_seconds, work, load_nice,
                    checkout,
                )  # fmt: skip
                which = "this checkout" if checkout is None else f"baseline {checkout}"
                click.echo(f"worker ({which}), live (--clock wall) at {rate:,.0f} events/s:")
                _report(live)


def _throughput(bootstrap: str, lines: list[bytes], rules: Path, partitions: int,
                work: Path) -> float:  # fmt: skip
    """The ceiling and backfill figures, printed; returns the backfill's end-to-end rate."""
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
    return e2e


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def _report(live: Live) -> None:
    lat = [latency for _, latency in live.latencies]
    if len(lat) < 2:
        raise click.ClickException("too few changes to measure latency")
    cuts = statistics.quantiles(lat, n=100)
    end = max(at for at, _ in live.latencies)
    slices = [
        [
            latency
            for at, latency in live.latencies
            if i * end / SLICES <= at <= (i + 1) * end / SLICES
        ]
        for i in range(SLICES)
    ]
    steady = ", ".join(
        _ms(statistics.quantiles(s, n=100)[98]) if len(s) > 1 else "-" for s in slices
    )
    seen = live.worker
    click.echo(
        f"  event-to-change, as the bench's consumer sees it: p50 {_ms(cuts[49])}, "
        f"p99 {_ms(cuts[98])} over {len(lat):,} changes (p99 by thirds of the run: {steady})"
    )
    click.echo(
        f"  event-to-change, the worker's own /metrics histogram: p50 "
        f"{_ms(seen.quantile(0.5, E2C))}, p99 {_ms(seen.quantile(0.99, E2C))} over "
        f"{seen.count(E2C):,.0f} changes (interpolated within its buckets)"
    )
    phases = ", ".join(
        f"{phase} {_ms(seen.mean(BATCH, phase))} mean, p99 {_ms(seen.quantile(0.99, BATCH, phase))}"
        for phase in ("apply", "flush")
    )
    click.echo(f"  batches: {seen.count(BATCH, 'apply'):,.0f}; {phases}")
    click.echo(f"  {live.cpu.line()}; {load()}")
