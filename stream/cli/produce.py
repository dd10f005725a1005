"""`segstream produce`: send a JSON-lines file of events to Kafka, keyed by contact id, fast."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterable
from typing import Any

import click
import orjson
from aiokafka import AIOKafkaProducer

from stream.app.admin import ensure_topics
from stream.cli.failures import loglevel_option
from stream.cli.options import setting_option, settings_from
from stream.ops.probe import require_broker


def contact_key(line: bytes) -> bytes | None:
    """The message key of one line: its contact_id, or None when it has none."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    contact = obj.get("contact_id") if isinstance(obj, dict) else None
    return contact.encode() if isinstance(contact, str) and contact else None


async def produce_lines(
    bootstrap: str,
    topic: str,
    lines: Iterable[bytes],
    *,
    partitions: int | None = None,
    keyed: bool = True,
) -> int:
    """Send every non-blank line as one message; returns how many were sent and acknowledged.

    With `partitions`, a missing topic is created with that many partitions first.
    """
    if partitions is not None:
        await ensure_topics(bootstrap, [topic], partitions)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=5,
        max_batch_size=512 * 1024,
        max_request_size=8 * 1024 * 1024,
        enable_idempotence=True,
    )
    await producer.start()
    sent = 0
    try:
        pending = []
        for line in lines:
            line = line.strip()
            if not line:
                continue
            key = contact_key(line) if keyed else None
            pending.append(await producer.send(topic, line, key=key))
            sent += 1
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await producer.flush()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent


@click.command("produce")
@click.argument("file", type=click.File("rb"))
@setting_option("broker")
@setting_option("events_topic", "--topic")
@setting_option("partitions")
@setting_option("connect_timeout")
@loglevel_option()
def command(file: click.utils.LazyFile, **options: Any) -> None:
    """Send FILE (JSON lines, - for standard input) to the events topic, keyed by contact id.

    A missing topic is created with the configured partitions.
    """
    settings = settings_from(**options)
    require_broker(settings.bootstrap_servers(), settings.connect_timeout.total_seconds())
    started = time.perf_counter()
    sent = asyncio.run(
        produce_lines(
            settings.bootstrap_servers(),
            settings.events_topic,
            file,
            partitions=settings.partitions,
        )
    )
    took = time.perf_counter() - started
    rate = sent / took if took > 0 else 0.0
    click.echo(
        f"sent {sent} events to {settings.events_topic} in {took:.1f} s ({rate:,.0f}/s)", err=True
    )
    sys.exit(0)
