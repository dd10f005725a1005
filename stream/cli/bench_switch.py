"""`segstream bench switch`: preview, rebuild and switch of a rule change, and live throughput."""

from __future__ import annotations

import click

from stream.bench.switch import SwitchRun, run
from stream.cli.bench import (
    bench,
    failures_reported,
    stream_options,
    workdir_option,
    worker_bench_input,
)
from stream.testing import EXAMPLE_RULES


@bench.command("switch")
@stream_options(events=5_000_000)
@click.option("--partitions", default=8, show_default=True)
@click.option(
    "--burst",
    type=float,
    default=0.05,
    show_default=True,
    help="Share of the events held back as each of the two live bursts (the rest is history).",
)
@click.option(
    "--preview-jobs",
    default="1,2",
    show_default=True,
    help="The --jobs values `rules preview` is timed with, comma-separated.",
)
@workdir_option
def bench_switch(
    contacts: int,
    events: int,
    seed: int,
    partitions: int,
    burst: float,
    preview_jobs: str,
    workdir: str,
) -> None:
    """A rule change on a worker with a long history, on the broker at SEGSTREAM_BROKER.

    The worker applies the history under the example rules (version A) on the event clock;
    a live burst is timed with nothing else running; `rules preview` of version B (a new
    7-day segment, a threshold, a removed segment, a lifecycle rule) is timed against the
    topic; then B is published with a second burst right behind it: the time until every
    partition switched, each partition's rebuild and switch, and the burst's throughput
    while the partitions rebuilt.
    """
    bootstrap, work, lines = worker_bench_input(
        contacts, events, seed, workdir, partitions, EXAMPLE_RULES
    )
    jobs = [int(j) for j in preview_jobs.split(",") if j.strip()]
    size = int(len(lines) * burst)
    with failures_reported():
        result = run(bootstrap, lines, partitions, size, jobs, work)
    _report(result)


def _report(result: SwitchRun) -> None:
    history, alone, during = result.history, result.alone, result.during
    click.echo(
        f"history under A (--clock event): {history.events:,} events applied in "
        f"{history.seconds:,.1f} s, {history.per_second:,.0f} events/s"
    )
    click.echo(
        f"live burst, nothing else running: {alone.events:,} events applied in "
        f"{alone.seconds:,.1f} s, {alone.per_second:,.0f} events/s"
    )
    for preview in result.previews:
        click.echo(
            f"rules preview B against the topic's history (--jobs {preview.jobs}): "
            f"{preview.seconds:,.1f} s"
        )
    click.echo(f"publish B to every partition switched: {result.rebuild_s:,.1f} s")
    for s in result.switched:
        click.echo(
            f"  partition {s.partition}: switched {s.after_publish_s:,.1f} s after the "
            f"publish, {s.records:,} records rebuilt, switch {s.switch_s:.2f} s, "
            f"{s.changes:,} changes with reason rules"
        )
    where = (
        "all of it before the last switch"
        if result.burst_done_before_switch
        else "counted up to the last switch"
    )
    click.echo(
        f"live burst during the rebuild: {during.events:,} events applied in "
        f"{during.seconds:,.1f} s, {during.per_second:,.0f} events/s "
        f"({during.per_second / alone.per_second:.2f} of the rate with no rebuild; {where})"
    )
