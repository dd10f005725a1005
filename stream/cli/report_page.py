"""`segstream report --html FILE`: the status page as one self-contained file to share."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from pathlib import Path
from typing import Any

import click

from stream.cli.failures import EXIT_UNAVAILABLE
from stream.cli.health import thresholds_of
from stream.cli.materialize import app_id_option, load_rules, redis_option, rules_option
from stream.cli.options import settings_from
from stream.core.timefmt import format_ts
from stream.serving.connection import redact


@click.command("report")
@click.option(
    "--html",
    "target",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the status page here, with its data: it opens offline.",
)
@redis_option()
@app_id_option()
@rules_option()
def command(target: Path, **options: Any) -> None:
    """The status page (as `segstream api` serves it at /) as one HTML file: its script, style
    and the answers it reads from Redis now, all inline, so it opens without a network or
    the API, for mail or a wiki.

    Lint thresholds are the SEGSTREAM_LINT_* settings, as for the API.
    """
    settings = settings_from(**options)
    rules = load_rules(settings.rules_file)
    # FastAPI is slow to import; only this command and `api` need it.
    from stream.serving.api import ApiConfig
    from stream.serving.snapshot import SnapshotError, read_snapshot, snapshot_html

    config = ApiConfig(
        settings.redis_url, settings.app_id, rules, None, settings.redis_ca_file,
        thresholds_of(settings),
    )  # fmt: skip
    # The API's "unreachable; retrying" is for a server; this command answers once, below.
    logging.getLogger("stream.serving.connection").setLevel(logging.ERROR)
    try:
        snapshot = asyncio.run(read_snapshot(config))
    except SnapshotError as error:
        if error.status != 503:
            raise
        click.echo(
            f"error: Redis at {redact(settings.redis_url)} does not answer; start it, or name "
            "the one `segstream materialize` writes to with --redis or SEGSTREAM_REDIS_URL",
            err=True,
        )
        sys.exit(EXIT_UNAVAILABLE)
    taken = format_ts(int(time.time() * 1_000_000))
    text = snapshot_html(snapshot, taken)
    target.write_text(text, encoding="utf-8")
    segments = snapshot.answers["/v1/segments"]
    click.echo(
        f"wrote {target} ({len(text.encode()) / 1024:,.0f} KiB): the status page of "
        f"{len(segments['segments'])} segments at position {segments['position'] or '(none)'}, "
        f"taken {taken}, with its data inline; open it in a browser, no network needed",
        err=True,
    )
