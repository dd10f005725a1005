"""`segstream validate RULES`: load a definition file and report every problem with its path."""

from __future__ import annotations

import sys

import click

from stream.core.language.loader import load_file, summary
from stream.errors import DefinitionError

EXIT_RULES = 2


@click.command("validate")
@click.argument("rules", type=click.Path(dir_okay=False))
def validate(rules: str) -> None:
    """Check a definition file; exit 0 with a summary, or 2 with every load error."""
    try:
        ruleset = load_file(rules)
    except DefinitionError as error:
        for line in error.lines():
            click.echo(line, err=True)
        sys.exit(EXIT_RULES)
    click.echo(f"{rules}: ok: {summary(ruleset)}")


command = validate
