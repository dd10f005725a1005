"""`segstream catalog`: every segment documented, with plain-English criteria and live sizes."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from stream.cli.materialize import app_id_option, redis_option
from stream.cli.options import setting_option, settings_from
from stream.core.catalog.entries import catalog
from stream.core.catalog.render import html, markdown
from stream.core.language.loader import load_file
from stream.errors import DefinitionError
from stream.serving.connection import UNAVAILABLE, connect, redact
from stream.serving.store import Store
from stream.testing import EXAMPLE_RULES

EXIT_RULES = 2


@click.command("catalog")
@setting_option(
    "rules_file", "--rules", type=click.Path(dir_okay=False, exists=True, path_type=Path)
)
@click.option("--format", "fmt", type=click.Choice(["md", "html"]), default="md", show_default=True)
@redis_option()
@app_id_option()
@click.option("--no-sizes", is_flag=True, help="Do not ask Redis for the live sizes.")
def command(
    rules_file: Path | None, fmt: str, redis_url: str | None, app_id: str | None, no_sizes: bool
) -> None:
    """Print the segment catalog (the example rules unless --rules or SEGSTREAM_RULES_FILE).

    Live sizes come from the served memberships when Redis answers; otherwise they are left out
    and a note says why.
    """
    settings = settings_from(rules_file=rules_file, redis_url=redis_url, app_id=app_id)
    path = settings.rules_file or EXAMPLE_RULES
    try:
        ruleset = load_file(path)
    except DefinitionError as error:
        for line in error.lines():
            click.echo(line, err=True)
        sys.exit(EXIT_RULES)
    sizes = None
    if not no_sizes:
        sizes = asyncio.run(live_sizes(settings.redis_url, settings.app_id))
        if sizes is None:
            click.echo(
                f"note: Redis at {redact(settings.redis_url)} does not answer or holds no "
                f"memberships for {settings.app_id}: no live sizes",
                err=True,
            )
    entries = catalog(ruleset, sizes)
    click.echo(markdown(entries) if fmt == "md" else html(entries), nl=False)


async def live_sizes(url: str, namespace: str) -> dict[str, tuple[int, int]] | None:
    """(members, held out) per segment summed over partitions; None when Redis cannot say."""
    try:
        store = Store(await connect(url), namespace)
    except UNAVAILABLE:
        return None
    try:
        partitions = await store.partitions()
        if partitions is None:
            return None
        sizes: dict[str, tuple[int, int]] = {}
        for stats in await store.stats(partitions):
            for segment, size in stats.sizes.items():
                members, held = sizes.get(segment, (0, 0))
                sizes[segment] = (members + size, held + stats.held_out.get(segment, 0))
        return sizes
    except UNAVAILABLE:
        return None
    finally:
        await store.aclose()
