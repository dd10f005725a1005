"""`segstream generate`: write a realistic synthetic contact stream as JSON lines."""

from __future__ import annotations

import sys

import click
import orjson

from stream.core.timefmt import parse_ts
from stream.testing.generate import generate as generate_events


@click.command("generate")
@click.option("--contacts", default=1000, show_default=True, help="How many contacts at most.")
@click.option("--events", default=10000, show_default=True, help="How many events in all.")
@click.option("--seed", default=1, show_default=True, help="Random seed; same seed, same stream.")
@click.option(
    "--start",
    default="2026-09-01T00:00:00Z",
    show_default=True,
    help="RFC 3339 time of the stream's start.",
)
@click.option("--days", default=60.0, show_default=True, help="Days the stream spans.")
@click.option(
    "--output",
    "-o",
    default="-",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="File to write, or - for standard output.",
)
def generate(contacts: int, events: int, seed: int, start: str, days: float, output: str) -> None:
    """Identify events with firmographics, then skewed behaviour, timestamps in order."""
    try:
        start_us = parse_ts(start)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--start") from None
    stream = generate_events(contacts, events, seed=seed, start_us=start_us, days=days)
    sink = sys.stdout.buffer if output == "-" else open(output, "wb")  # noqa: SIM115
    try:
        dumps = orjson.dumps
        sink.writelines(dumps(event) + b"\n" for event in stream)
    finally:
        if sink is not sys.stdout.buffer:
            sink.close()
        else:
            sink.flush()


command = generate
