"""`segstream demo`: a broker, a worker, a generated stream, and the segment changes it causes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from importlib.resources import files
from pathlib import Path
from typing import Any

import click
import orjson

from stream.cli.demo_serving import show_served
from stream.cli.produce import produce_lines
from stream.cli.tail import describe, follow
from stream.core.generate import generate
from stream.ops.broker import DevBroker, default_data_dir
from stream.ops.probe import answers_metadata
from stream.ops.status import handled_in, read_status
from stream.settings import Settings

READY_TIMEOUT_S = 120.0
QUIET_S = 2.0  # no new change for this long after the last event is handled: done


def example_rules() -> Path:
    """The example definition file shipped in the package."""
    return Path(str(files("stream").joinpath("examples/segments.yaml")))


class DemoWorker:
    """A `segstream worker` subprocess on demo topics, with its log and status file."""

    def __init__(self, broker: str, run: str, workdir: Path, partitions: int) -> None:
        self.changes = f"segstream-demo-{run}-changes"
        self.events = f"segstream-demo-{run}-events"
        self.status_file = workdir / "status.json"
        self.log = workdir / "worker.log"
        args = [
            sys.executable, "-m", "stream.cli.worker",
            "--rules", str(example_rules()),
            "--broker", broker,
            "--app-id", f"segstream-demo-{run}",
            "--events-topic", self.events,
            "--changes-topic", self.changes,
            "--dlq-topic", f"segstream-demo-{run}-dlq",
            "--partitions", str(partitions),
            "--state-dir", str(workdir / "state"),
            "--clock", "event",
            "--status-file", str(self.status_file),
            "--loglevel", "warning",
        ]  # fmt: skip
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)

    def status(self) -> dict[str, Any] | None:
        return read_status(self.status_file)

    def handled(self) -> int:
        return handled_in(self.status())

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while self.status() is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log.read_text(errors="replace")[-3000:]
                raise click.ClickException(f"the worker did not start:\n{tail}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


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


async def _stream_and_show(
    bootstrap: str, worker: DemoWorker, lines: list[bytes], show: int
) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []
    stop = asyncio.Event()

    def on_change(change: dict[str, Any]) -> None:
        changes.append(change)
        if len(changes) <= show:
            click.echo("  " + describe(change))
        elif len(changes) % 250 == 0:
            click.echo(f"  ... {len(changes)} changes so far")

    async def until_done() -> None:
        seen, quiet_since = -1, time.monotonic()
        while True:
            await asyncio.sleep(0.2)
            if len(changes) != seen:
                seen, quiet_since = len(changes), time.monotonic()
            done = worker.handled() >= len(lines)
            if done and time.monotonic() - quiet_since >= QUIET_S:
                stop.set()
                return
            if worker.proc.poll() is not None:
                stop.set()
                raise click.ClickException(f"the worker stopped; see {worker.log}")

    follower = asyncio.create_task(follow(bootstrap, worker.changes, on_change, stop=stop))
    await produce_lines(bootstrap, worker.events, lines)
    click.echo(f"Produced {len(lines)} events; the worker is applying them:")
    await until_done()
    await follower
    if len(changes) > show:
        click.echo(f"  ... {len(changes) - show} more")
    return changes


def summary(changes: list[dict[str, Any]]) -> list[str]:
    """Per segment: members at the end, entries, exits; then contacts per lifecycle stage."""
    members: dict[str, set[str]] = {}
    entered: Counter[str] = Counter()
    exited: Counter[str] = Counter()
    stages: dict[str, str | None] = {}
    last_seq: dict[str, int] = {}
    for change in changes:
        contact = change["contact_id"]
        if change["seq"] <= last_seq.get(contact, 0):
            continue  # a redelivery
        last_seq[contact] = change["seq"]
        if change["kind"] == "lifecycle":
            stages[contact] = change["to"]
            continue
        segment = change["segment"]
        group = members.setdefault(segment, set())
        if change["change"] == "entered":
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
    keep_broker: bool,
) -> None:
    """Run the whole pipeline locally: Kafka, a worker with the example rules, a stream.

    Starts the local dev broker if no Kafka answers at SEGSTREAM_BROKER, starts a worker with
    the example segment definitions, produces a generated history of B2B contact events,
    prints segment changes as the worker publishes them, then a per-segment summary.
    """
    settings = Settings.from_env()
    bootstrap, broker = ensure_broker(settings)
    run = f"{int(time.time())}-{os.getpid()}"
    try:
        with tempfile.TemporaryDirectory(prefix="segstream-demo-") as tmp:
            click.echo(f"Starting a worker with {example_rules()} ...")
            worker = DemoWorker(f"kafka://{bootstrap}", run, Path(tmp), partitions)
            try:
                worker.wait_ready()
                stream = generate(contacts, events, seed=seed, days=days)
                lines = [orjson.dumps(e) for e in stream]
                click.echo(f"Worker ready. Streaming {len(lines)} events of {contacts} contacts"
                           f" over {days:g} days; segment changes as they happen:")  # fmt: skip
                changes = asyncio.run(_stream_and_show(bootstrap, worker, lines, show))
            finally:
                worker.stop()
        click.echo("")
        click.echo(f"{len(changes)} changes. Membership at the end of the stream:")
        for line in summary(changes):
            click.echo("  " + line)
        show_served(bootstrap, worker.changes, settings.redis_url, run, changes)
        if broker is None or keep_broker:
            click.echo("")
            click.echo(f"See them again: segstream tail --broker kafka://{bootstrap} "
                       f"--topic {worker.changes}")  # fmt: skip
    finally:
        if broker is not None and not keep_broker:
            broker.stop()
            click.echo("Stopped the dev broker the demo started (--keep-broker leaves it up).")
