"""`segstream generate`: write a realistic synthetic contact stream as JSON lines."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

import click
import orjson

from stream.core.timefmt import parse_ts
from stream.testing.generate import generate as generate_events
from stream.testing.generate import start_for_end


@click.command("generate")
@click.option("--contacts", default=1000, show_default=True, help="How many contacts at most.")
@click.option("--events", default=10000, show_default=True, help="How many events in all.")
@click.option("--seed", default=1, show_default=True, help="Random seed; same seed, same stream.")
@click.option(
    "--start",
    default=None,
    help="RFC 3339 time of the stream's start, for the same stream on every run.  "
    "[default: the stream ends now, so that a worker on the wall clock takes all of it]",
)
@click.option("--days", default=60.0, show_default=True, help="Days the stream spans.")
@click.option(
    "--output",
    "-o",
    default="-",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="File to write, or - for standard output.",
)
def generate(
    contacts: int, events: int, seed: int, start: str | None, days: float, output: str
) -> None:
    """Identify events with firmographics, then skewed behaviour, timestamps in order.

    Reports on standard error what it wrote: events, contacts, time range and file.
    """
    if start is None:
        now_us = time.time_ns() // 1000
        start_us = start_for_end(now_us, contacts, events, seed=seed, days=days)
    else:
        try:
            start_us = parse_ts(start)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--start") from None
    stream = generate_events(contacts, events, seed=seed, start_us=start_us, days=days)
    tally = Tally()
    sink = sys.stdout.buffer if output == "-" else open(output, "wb")  # noqa: SIM115
    try:
        dumps = orjson.dumps
        sink.writelines(dumps(event) + b"\n" for event in tally.count(stream))
    finally:
        if sink is not sys.stdout.buffer:
            sink.close()
        else:
            sink.flush()
    where = "standard output" if output == "-" else output
    click.echo(f"generate: {tally.summary()}, to {where}", err=True)


class Tally:
    """What went by: how many events, for how many contacts, from when to when."""

    def __init__(self) -> None:
        self.events = 0
        self.contacts: set[str] = set()
        self.first: str | None = None
        self.last: str | None = None

    def count(self, stream: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        contacts = self.contacts
        for event in stream:
            self.events += 1
            contacts.add(event["contact_id"])
            self.last = event["timestamp"]
            if self.first is None:
                self.first = self.last
            yield event

    def summary(self) -> str:
        what = f"{self.events:,} events of {len(self.contacts):,} contacts"
        if self.first is None:
            return what
        return f"{what}, {self.first} to {self.last}"


command = generate
