"""`segstream worker`: the streaming processor on Kafka."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from stream.cli.options import broker_option, setting_option
from stream.core.loader import load_file
from stream.errors import DefinitionError
from stream.settings import Settings

EXIT_RULES = 2


@click.command("worker")
@setting_option(
    "--rules",
    "SEGSTREAM_RULES_FILE",
    "Segment definition file (YAML or JSON).",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
)
@broker_option()
@setting_option(
    "--partitions",
    "SEGSTREAM_PARTITIONS",
    "Partitions of the topics the worker creates.  [default: 8]",
    type=click.IntRange(min=1),
)
@setting_option(
    "--state-dir",
    "SEGSTREAM_STATE_DIR",
    "Directory of the local table state.",
    type=click.Path(file_okay=False, path_type=Path),
)
@setting_option(
    "--store", "SEGSTREAM_STORE", "Table store: rocksdb:// or memory://.  [default: rocksdb://]"
)
@click.option(
    "--exactly-once/--at-least-once",
    "exactly_once",
    default=None,
    envvar="SEGSTREAM_EXACTLY_ONCE",
    show_envvar=True,
    help="Kafka transactions: a read_committed consumer sees every change once. "
    " [default: at-least-once]",
)
@setting_option(
    "--clock",
    "SEGSTREAM_CLOCK",
    "wall (live: later of event time and wall clock) or event "
    "(event time only, as segstream replay).  [default: wall]",
    type=click.Choice(["wall", "event"]),
)
@setting_option(
    "--events-topic", "SEGSTREAM_EVENTS_TOPIC", "Input topic.  [default: contact-events]"
)
@setting_option(
    "--changes-topic", "SEGSTREAM_CHANGES_TOPIC", "Output topic.  [default: segment-changes]"
)
@setting_option(
    "--dlq-topic", "SEGSTREAM_DLQ_TOPIC", "Dead-letter topic.  [default: contact-events-dlq]"
)
@setting_option(
    "--app-id",
    "SEGSTREAM_APP_ID",
    "Worker group id (consumer group, table names).  [default: segstream]",
)
@setting_option(
    "--key-mismatch",
    "SEGSTREAM_KEY_MISMATCH",
    "A message keyed with another contact id: dead-letter or repartition.  [default: dead-letter]",
    type=click.Choice(["dead-letter", "repartition"]),
)
@setting_option(
    "--batch-size",
    "SEGSTREAM_BATCH_SIZE",
    "Most events between two durable writes.  [default: 2000]",
    type=click.IntRange(min=1),
)
@setting_option(
    "--standby-replicas",
    "SEGSTREAM_STANDBY_REPLICAS",
    "Warm copies of each table partition kept by other workers of the group, so a "
    "rebalance promotes one instead of restoring from the changelog.  [default: 1]",
    type=click.IntRange(min=0),
)
@setting_option(
    "--web-port",
    "SEGSTREAM_WEB_PORT",
    "Faust web server port; 0 turns it off.  [default: 0]",
    type=click.IntRange(min=0),
)
@setting_option(
    "--status-file",
    "SEGSTREAM_STATUS_FILE",
    "Write per-partition clocks and counters here as JSON, twice a second.",
    type=click.Path(dir_okay=False, path_type=Path),
)
@click.option(
    "--loglevel",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
def command(status_file: Path | None, loglevel: str, **options: Any) -> None:
    """Consume contact events, keep per-contact state, publish segment changes.

    Every option can also be set with its environment variable. Bad input goes to the
    dead-letter topic and processing goes on; missing topics are created.
    """
    overrides = {
        k if k != "rules" else "rules_file": v for k, v in options.items() if v is not None
    }
    try:
        settings = Settings.from_env(**overrides)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    if settings.rules_file is None:
        raise click.UsageError("give the rules with --rules FILE or SEGSTREAM_RULES_FILE")
    try:
        rules = load_file(settings.rules_file)
    except DefinitionError as error:
        for line in error.lines():
            click.echo(line, err=True)
        sys.exit(EXIT_RULES)
    from stream.app.run import run_worker  # Faust is slow to import; only the worker needs it

    run_worker(settings, rules, status_path=status_file, loglevel=loglevel)


if __name__ == "__main__":
    command()
