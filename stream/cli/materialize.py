"""`segstream materialize`: keep the segment memberships in Redis from the change topic."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from stream.cli.failures import loglevel_option
from stream.cli.options import setting_option, settings_from
from stream.core.language.ast import RuleSet
from stream.core.language.loader import load_file
from stream.errors import DefinitionError
from stream.ops.kafka_security import KafkaSecurity
from stream.ops.probe import require_broker
from stream.serving.lift import goal_spec
from stream.serving.materializer import Materializer, MaterializerConfig

F = TypeVar("F", bound=Callable[..., Any])
EXIT_RULES = 2


def redis_option() -> Callable[[F], F]:
    return setting_option("redis_url", "--redis")


def app_id_option() -> Callable[[F], F]:
    return setting_option("app_id")


def rules_option() -> Callable[[F], F]:
    return setting_option(
        "rules_file", "--rules", type=click.Path(dir_okay=False, exists=True, path_type=Path)
    )


def load_rules(path: Path | None) -> RuleSet | None:
    """The rules at `path` (None without one); exit 2 listing the problems of a bad file."""
    if path is None:
        return None
    try:
        return load_file(path)
    except DefinitionError as error:
        for line in error.lines():
            click.echo(line, err=True)
        sys.exit(EXIT_RULES)


@click.command("materialize")
@redis_option()
@setting_option("broker")
@setting_option("connect_timeout")
@setting_option("changes_topic")
@app_id_option()
@rules_option()
@click.option(
    "--batch-size",
    default=1000,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Most changes per atomic Redis step (Redis answers nothing else meanwhile).",
)
@click.option(
    "--status-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Rewrite this JSON file every second while running (offsets, Redis up): for health "
    "checks.",
)
@loglevel_option()
def command(
    redis_url: str | None,
    broker: str | None,
    connect_timeout: str | None,
    changes_topic: str | None,
    app_id: str | None,
    rules_file: Path | None,
    batch_size: int,
    status_file: Path | None,
    loglevel: str | None,
) -> None:
    """Apply segment-changes to Redis: each contact's segments, stage and seq, each segment's
    members and size, and the offsets, all in one atomic step per partition batch.

    Idempotent by seq; resumes from the offsets in Redis; retries while Redis is down. With
    --rules, the segments with a goal also keep the records holdout lift is measured from.
    """
    settings = settings_from(
        redis_url=redis_url, broker=broker, connect_timeout=connect_timeout,
        changes_topic=changes_topic, app_id=app_id, rules_file=rules_file, loglevel=loglevel,
    )  # fmt: skip
    config = MaterializerConfig(
        bootstrap=settings.bootstrap_servers(),
        topic=settings.changes_topic,
        redis_url=settings.redis_url,
        namespace=settings.app_id,
        batch_size=batch_size,
        status_file=status_file,
        kafka=KafkaSecurity.of(settings),
        redis_ca_file=settings.redis_ca_file,
        goals=goal_spec(load_rules(settings.rules_file)),
    )
    # Asked once at start so that refused credentials or a TLS mismatch are one line that
    # names the settings, as for the other Kafka commands; later outages are retried.
    require_broker(config.bootstrap, settings.connect_timeout.total_seconds(), config.kafka)
    asyncio.run(_run(config))


async def _run(config: MaterializerConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await Materializer(config).run(stop)


if __name__ == "__main__":
    command()
