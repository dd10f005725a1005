"""The `segstream` command: a click group with one module per subcommand."""

from __future__ import annotations

from typing import Any

import click

from stream import __version__
from stream.cli import (
    api,
    bench,
    bench_page,  # noqa: F401  (registers `bench page` on the bench group)
    bench_restore,  # noqa: F401  (registers `bench restore` on the bench group)
    bench_serving,  # noqa: F401  (registers `bench serving` on the bench group)
    bench_switch,  # noqa: F401  (registers `bench switch` on the bench group)
    bench_worker,  # noqa: F401  (registers `bench worker` on the bench group)
    catalog,
    demo,
    dev_broker,
    generate,
    health,
    lag,
    materialize,
    produce,
    replay,
    report_page,
    rules,
    rules_preview,  # noqa: F401  (registers `rules preview` on the rules group)
    tail,
    validate,
    worker,
)
from stream.cli.failures import reported
from stream.settings_declared import help_text


class Segstream(click.Group):
    """The command group; an operational failure of any command ends as one line (failures)."""

    def invoke(self, ctx: click.Context) -> Any:
        with reported():
            return super().invoke(ctx)


@click.group(
    cls=Segstream,
    # \b keeps click from re-wrapping the settings table.
    epilog="\b\n" + help_text(),
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="segstream")
def main() -> None:
    """segstream: streaming audience segmentation on Kafka."""


# One line per command module; each module exposes a click command named `command`.
main.add_command(dev_broker.command)
main.add_command(worker.command)
main.add_command(produce.command)
main.add_command(tail.command)
main.add_command(validate.command)
main.add_command(replay.command)
main.add_command(generate.command)
main.add_command(bench.command)
main.add_command(demo.command)
main.add_command(materialize.command)
main.add_command(api.command)
main.add_command(lag.command)
main.add_command(catalog.command)
main.add_command(health.command)
main.add_command(report_page.command)
main.add_command(rules.command)
