"""`segstream demo`: a broker, a worker, a generated stream, and the segment changes it causes."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import TypeVar

import click
import orjson

from stream.app.admin import delete_topics
from stream.cli import progress
from stream.cli.demo_serving import show_served
from stream.cli.describe import LEGEND, describe, segment_labels
from stream.cli.produce import produce_lines
from stream.cli.progress import Bar
from stream.cli.tail import follow
from stream.core import changes
from stream.core.changes import Change, LifecycleChange
from stream.core.language.loader import load_file
from stream.core.timefmt import parse_ts
from stream.ops.broker import DevBroker, default_data_dir
from stream.ops.probe import answers_metadata
from stream.settings import Settings
from stream.testing import EXAMPLE_RULES
from stream.testing.generate import generate
from stream.testing.worker import ChildExited, Names, WorkerProcess

T = TypeVar("T")

QUIET_S = 2.0  # no new change for this long after the last event is handled: done


def wait_ready(worker: WorkerProcess) -> None:
    """Wait for the worker to run; if it cannot, end the demo with the tail of its log."""
    try:
        worker.wait_ready()
    except (ChildExited, TimeoutError):
        tail = worker.log_text()[-3000:]
        raise click.ClickException(f"the worker did not start:\n{tail}") from None


def ensure_broker(settings: Settings) -> tuple[str, DevBroker | None]:
    """The bootstrap address to use, and the dev broker if the demo had to start it."""
    bootstrap = settings.bootstrap_servers()
    if answers_metadata(bootstrap):
        click.echo(f"Kafka answers at {bootstrap}.")
        return bootstrap, None
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    if host not in ("127.0.0.1", "localhost"):
        raise click.ClickException(f"no Kafka answers at {bootstrap}; start it or set "
                                   "SEGSTREAM_BROKER")  # fmt: skip
    click.echo(f"No Kafka at {bootstrap}: starting the local dev broker (the first run downloads")
    click.echo("Apache Kafka with mvn, which takes a minute or two)...")
    broker = DevBroker(default_data_dir())
    status = broker.start(port=int(port))
    click.echo(f"Dev broker running at {status.bootstrap}.")
    return status.bootstrap, None if status.already_running else broker


async def _stream(bootstrap: str, worker: WorkerProcess, lines: list[bytes]) -> list[Change]:
    """Produce `lines`, then collect the changes until the worker has handled them all."""
    collected: list[Change] = []
    stop = asyncio.Event()

    def on_message(partition: int, offset: int, value: bytes) -> None:
        collected.append(changes.decode(value))

    async def until_done(bar: Bar) -> None:
        seen, quiet_since = -1, time.monotonic()
        while True:
            await asyncio.sleep(0.2)
            handled = worker.handled()
            bar.update(handled, f"{len(collected):,} changes")
            if len(collected) != seen:
                seen, quiet_since = len(collected), time.monotonic()
            done = handled >= len(lines)
            if done and time.monotonic() - quiet_since >= QUIET_S:
                stop.set()
                return
            if not worker.alive():
                stop.set()
                raise click.ClickException(f"the worker stopped; see {worker.log()}")

    follower = asyncio.create_task(follow(bootstrap, worker.names.changes, on_message, stop=stop))
    await produce_lines(bootstrap, worker.names.events, lines)
    click.echo(f"Produced {len(lines)} events; the worker is applying them ...")
    with Bar("applying", len(lines), enabled=progress.wanted()) as bar:
        await until_done(bar)
    await follower
    return collected


def in_time_order(collected: list[Change]) -> list[Change]:
    """The changes by the instant they happened, then contact and sequence number."""
    return sorted(collected, key=lambda c: (parse_ts(c.at), c.contact_id, c.seq))


def spread(items: list[T], count: int) -> list[T]:
    """`count` of `items` at even steps from the first to the last (all when there are fewer)."""
    if len(items) <= count:
        return items
    if count <= 1:
        return items[:count]
    step = (len(items) - 1) / (count - 1)
    return [items[round(i * step)] for i in range(count)]


def show_changes(collected: list[Change], count: int, labels: dict[str, str]) -> None:
    """A legend, then `count` changes spread over the stream, in time order."""
    ordered = in_time_order(collected)
    shown = spread(ordered, count)
    if not shown:
        return
    what = "all" if len(shown) == len(ordered) else f"{len(shown)} of the"
    click.echo(f"{what} {len(ordered)} changes, spread over the stream, in time order:")
    click.echo("  " + LEGEND)
    for change in shown:
        click.echo("  " + describe(change, labels))


def summary(changes: list[Change]) -> list[str]:
    """Per segment: members at the end, entries, exits; then contacts per lifecycle stage."""
    members: dict[str, set[str]] = {}
    entered: Counter[str] = Counter()
    exited: Counter[str] = Counter()
    stages: dict[str, str | None] = {}
    last_seq: dict[str, int] = {}
    for change in changes:
        contact = change.contact_id
        if change.seq <= last_seq.get(contact, 0):
            continue  # a redelivery
        last_seq[contact] = change.seq
        if isinstance(change, LifecycleChange):
            stages[contact] = change.to
            continue
        segment = change.segment
        group = members.setdefault(segment, set())
        if change.change == "entered":
            group.add(contact)
            entered[segment] += 1
        else:
            group.discard(contact)
            exited[segment] += 1
    width = max((len(s) for s in members), default=7)
    out = [f"{'segment':<{width}}  members  entered  exited"]
    for segment in sorted(members):
        row = f"{len(members[segment]):>7}  {entered[segment]:>7}  {exited[segment]:>6}"
        out.append(f"{segment:<{width}}  {row}")
    by_stage = Counter(stage or "-" for stage in stages.values())
    out.append("")
    out.append("lifecycle: " + ", ".join(f"{s} {n}" for s, n in sorted(by_stage.items())))
    return out


@click.command("demo")
@click.option("--contacts", default=150, show_default=True, help="Contacts to simulate.")
@click.option("--events", default=3000, show_default=True, help="Events to generate.")
@click.option("--days", default=45.0, show_default=True, help="Days of history they span.")
@click.option("--seed", default=1, show_default=True)
@click.option("--show", default=40, show_default=True, help="Changes to print one by one.")
@click.option("--partitions", default=4, show_default=True)
@click.option(
    "--serve/--no-serve",
    default=None,
    help="At the end, keep the API up with the live status page until Ctrl-C. "
    "[default: serve when run in a terminal]",
)
@click.option(
    "--keep-broker/--stop-broker",
    default=False,
    show_default=True,
    help="Leave a dev broker the demo started running afterwards.",
)
def command(
    contacts: int,
    events: int,
    days: float,
    seed: int,
    show: int,
    partitions: int,
    serve: bool | None,
    keep_broker: bool,
) -> None:
    """Run the whole pipeline locally: Kafka, a worker with the example rules, a stream.

    Starts the local dev broker if no Kafka answers at SEGSTREAM_BROKER, starts a worker with
    the example segment definitions, produces a generated history of B2B contact events,
    prints a sample of the segment changes it published, in time order, then a per-segment
    summary, then the memberships as the API serves them from Redis. It ends with the
    address of the status page: the live one while it serves (--serve), then the page of the
    run as one file. It removes the topics it created at the end.
    """
    if serve is None:
        serve = sys.stdin.isatty() and sys.stdout.isatty()
    settings = Settings.from_env()
    bootstrap, broker = ensure_broker(settings)
    run = f"{int(time.time())}-{os.getpid()}"
    names = Names(f"segstream-demo-{run}")
    try:
        collected = _run(bootstrap, names, contacts, events, seed, days, partitions)
        click.echo("")
        show_changes(collected, show, segment_labels(load_file(EXAMPLE_RULES)))
        click.echo("")
        click.echo(f"{len(collected)} changes. Membership at the end of the stream:")
        for line in summary(collected):
            click.echo("  " + line)
        # Before the topics go: the materialiser reads the changes topic.
        page = show_served(bootstrap, names.changes, settings.redis_url, run, collected, serve)
        click.echo("")
    finally:
        _remove_topics(bootstrap, names)
        if broker is not None and not keep_broker:
            broker.stop()
            click.echo("Stopped the dev broker the demo started (--keep-broker leaves it up).")
    click.echo('Next: each step on its own, as README.md shows under "Using it".')
    if page is not None:
        click.echo(f"The status page of this run, one file that opens offline: {page.as_uri()}")


def _run(
    bootstrap: str,
    names: Names,
    contacts: int,
    events: int,
    seed: int,
    days: float,
    partitions: int,
) -> list[Change]:
    """Start a worker, stream a generated history through it; the changes it published."""
    with tempfile.TemporaryDirectory(prefix="segstream-demo-") as tmp:
        click.echo(f"Starting a worker with {EXAMPLE_RULES} ...")
        worker = WorkerProcess(
            bootstrap, EXAMPLE_RULES, names, Path(tmp), partitions=partitions, loglevel="warning"
        ).start()
        try:
            wait_ready(worker)
            lines = [orjson.dumps(e) for e in generate(contacts, events, seed=seed, days=days)]
            click.echo(f"Worker ready. Streaming {len(lines)} events of {contacts} contacts"
                       f" over {days:g} days.")  # fmt: skip
            return asyncio.run(_stream(bootstrap, worker, lines))
        finally:
            worker.stop()


def _remove_topics(bootstrap: str, names: Names) -> None:
    """Delete the topics of this run: the worker's own and those Faust made for it."""
    try:
        removed = asyncio.run(delete_topics(bootstrap, f"{names.prefix}-"))
    except Exception as error:  # the demo's result stands; only the clean-up failed
        click.echo(f"Could not remove the demo's topics ({names.prefix}-*): {error}", err=True)
        return
    click.echo(f"Removed the {len(removed)} topics the demo created ({names.prefix}-*).")
