"""`segstream lag`: the worker group's lag per partition, in messages and seconds, and a status."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import click
import orjson
from aiokafka.errors import KafkaConnectionError, KafkaError

from stream.app.topics import repartition_topic
from stream.cli.options import setting_option, settings_from
from stream.errors import InfrastructureError
from stream.ops.kafka_security import KafkaSecurity
from stream.ops.lag import EXIT_UNREACHABLE, Report, Windows
from stream.ops.offsets import OffsetReader, take_sample
from stream.ops.probe import require_broker
from stream.setting_kinds import DURATION

EXIT_INTERRUPTED = 130  # interrupted before the first sample


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


async def watch(
    make_reader: Callable[[], OffsetReader],
    topics: list[str],
    windows: Windows,
    every_s: float | None,
    show: Callable[[Report], None],
    codes: list[int],
) -> None:
    """Sample every `every_s` seconds (once when None); `show` each report and append its
    exit code to `codes`."""
    reader = make_reader()  # aiokafka's clients must be made inside the running loop
    try:
        await reader.start()
        while True:
            tps = await reader.partitions(topics)  # a topic may appear between two samples
            report = await take_sample(reader, tps, windows, _now_ms)
            show(report)
            codes.append(report.exit_code())
            if every_s is None:
                return
            await asyncio.sleep(every_s)  # the sampling interval itself, not a wait for a state
    finally:
        await reader.close()


@click.command("lag")
@setting_option("broker")
@setting_option("app_id")
@setting_option("events_topic")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per sample.")
@click.option(
    "--watch",
    "every_s",
    type=click.FloatRange(min=0.1),
    default=None,
    metavar="SECONDS",
    help="Sample again every SECONDS until interrupted; the exit status is the last sample's.",
)
@click.option(
    "--window",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Samples per partition its status is judged over (with --watch).",
)
@click.option(
    "--stop-after",
    type=click.STRING,
    default="5m",
    show_default=True,
    help="With fewer samples than --window: STOP when there is lag and no commit this long.",
)
def command(
    as_json: bool, every_s: float | None, window: int, stop_after: str, **options: Any
) -> None:
    """Committed offsets, end offsets and lag of the worker group, per partition.

    Reads the group's committed offsets and the end of the events and repartition topics
    (no worker needs to run). Lag in seconds is the age of the oldest message not consumed
    yet. Exit status: 0 OK, 1 WARN, 2 ERR, 3 broker unreachable, 4 no committed offsets.
    """
    settings = settings_from(**options)
    try:
        stop_after_ms = int(DURATION.parse(stop_after).total_seconds() * 1000)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--stop-after") from None
    # aiokafka logs every failed connection attempt; the one line below says it all.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    bootstrap = settings.bootstrap_servers()
    security = KafkaSecurity.of(settings)
    lookback_ms = max(stop_after_ms, int((every_s or 0) * 1000 * window))

    def make_reader() -> OffsetReader:
        return OffsetReader(bootstrap, settings.app_id, lookback_ms=lookback_ms, security=security)

    topics = [settings.events_topic, repartition_topic(settings)]

    def show(report: Report) -> None:
        if as_json:
            click.echo(orjson.dumps(report.to_json()).decode())
        else:
            if every_s is not None:
                click.echo()
            for line in report.lines():
                click.echo(line)

    codes: list[int] = []
    if security.protocol != "PLAINTEXT":
        # A refused login or TLS handshake makes aiokafka say only "Unable to bootstrap";
        # the probe says which, and which settings to check.
        try:
            require_broker(bootstrap, settings.connect_timeout.total_seconds(), security)
        except InfrastructureError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(EXIT_UNREACHABLE)
    try:
        windows = Windows(window, stop_after_ms)
        asyncio.run(watch(make_reader, topics, windows, every_s, show, codes))
    except KeyboardInterrupt:
        pass  # --watch ends here: the exit status is the last sample's
    except (KafkaConnectionError, OSError, TimeoutError) as error:
        click.echo(f"error: cannot reach the Kafka broker at {bootstrap}: {error}", err=True)
        sys.exit(EXIT_UNREACHABLE)
    except KafkaError as error:
        click.echo(f"error: the Kafka broker at {bootstrap} answered: {error}", err=True)
        sys.exit(EXIT_UNREACHABLE)
    sys.exit(codes[-1] if codes else EXIT_INTERRUPTED)
