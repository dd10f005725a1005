"""`segstream worker`: the streaming processor on Kafka."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from stream.cli.failures import loglevel_option
from stream.cli.options import setting_option, settings_from
from stream.core.language.loader import load_file
from stream.errors import DefinitionError
from stream.settings_declared import help_text

EXIT_RULES = 2


# \b keeps click from re-wrapping the settings table.
@click.command("worker", epilog="\b\n" + help_text())
@setting_option(
    "rules_file", "--rules", type=click.Path(dir_okay=False, exists=True, path_type=Path)
)
@setting_option("broker")
@setting_option("partitions")
@setting_option("state_dir", type=click.Path(file_okay=False, path_type=Path))
@setting_option("store")
@setting_option("exactly_once", "--exactly-once/--at-least-once")
@setting_option("clock")
@setting_option("events_topic")
@setting_option("changes_topic")
@setting_option("dlq_topic")
@setting_option("definitions_topic")
@setting_option("app_id")
@setting_option("key_mismatch")
@setting_option("batch_size")
@setting_option("on_processing_error")
@setting_option("max_state_bytes")
@setting_option("standby_replicas")
@setting_option("web_port")
@setting_option("web_host")
@setting_option("status_file", type=click.Path(dir_okay=False, path_type=Path))
@setting_option("progress_interval")
@setting_option("connect_timeout")
@loglevel_option()
def command(**options: Any) -> None:
    """Consume contact events, keep per-contact state, publish segment changes.

    Every option can also be set with its environment variable. Bad input goes to the
    dead-letter topic and processing goes on; missing topics are created. Exits with 3 when
    the broker does not answer within --connect-timeout.
    """
    settings = settings_from(**options)
    if settings.rules_file is None:
        raise click.UsageError("give the rules with --rules FILE or SEGSTREAM_RULES_FILE")
    try:
        rules = load_file(settings.rules_file)
    except DefinitionError as error:
        for line in error.lines():
            click.echo(line, err=True)
        sys.exit(EXIT_RULES)
    from stream.app.run import run_worker  # Faust is slow to import; only the worker needs it

    run_worker(settings, rules, status_path=settings.status_file)


if __name__ == "__main__":
    command()
