"""`segstream replay`: run the streaming logic over a JSON-lines file, changes to stdout."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterable, Iterator
from typing import BinaryIO, TypeVar

import click
import orjson

from stream.core.ast import RuleSet
from stream.core.loader import load_file
from stream.core.replay import replay_lines
from stream.core.timefmt import parse_ts
from stream.errors import DefinitionError, InvalidInput

EXIT_FAILURE = 1
EXIT_RULES = 2
FREEZE_EVERY = 1 << 16  # input lines between two moves of live objects out of the GC's sight

Line = TypeVar("Line")


def gc_friendly(lines: Iterable[Line]) -> Iterator[Line]:
    """`lines`, while every so often moving the objects alive into the GC's permanent
    generation.

    Replay keeps millions of small per-contact containers alive to the end; each full
    collection would traverse all of them again to find almost no cycles, which at a
    million contacts costs more than the engine itself. A batch job can afford to never
    collect what is frozen: nothing in replay's state forms cycles.
    """
    for number, line in enumerate(lines):
        if number % FREEZE_EVERY == 0:
            gc.freeze()
        yield line


def _report(number: int, error: InvalidInput) -> None:
    sys.stderr.write(f"line {number}: {error.reason}: {error.detail}\n")


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
def replay(rules_path: str, events_path: str, until: str | None) -> None:
    """Replay events in file order with event time; print every change as one JSON line.

    Exit status: 0 when it ran (even with skipped lines), 2 when the rules do not load,
    1 on any other failure.
    """
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
    try:
        if events_path == "-":
            _run(rules, sys.stdin.buffer, until_us)
        else:
            with open(events_path, "rb") as source:
                _run(rules, source, until_us)
    except OSError as error:
        click.echo(f"replay failed: {error}", err=True)
        sys.exit(EXIT_FAILURE)


def _run(rules: RuleSet, source: BinaryIO, until_us: int | None) -> None:
    out = sys.stdout.buffer
    dumps = orjson.dumps
    for change in replay_lines(rules, gc_friendly(source), until_us, on_invalid=_report):
        out.write(dumps(change) + b"\n")
    out.flush()


command = replay
