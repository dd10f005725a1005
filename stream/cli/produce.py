"""`segstream produce`: send a JSON-lines file of events to Kafka, keyed by contact id, fast."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

import click
import orjson
from aiokafka import AIOKafkaProducer

from stream.app.admin import ensure_topics
from stream.cli import progress
from stream.cli.failures import loglevel_option
from stream.cli.options import setting_option, settings_from
from stream.cli.progress import file_size, track_lines
from stream.cli.report import Skipped, plural
from stream.core.events import decode_event
from stream.core.replay import InvalidHandler
from stream.errors import InvalidInput
from stream.ops.kafka_security import PLAINTEXT, KafkaSecurity
from stream.ops.probe import require_broker

EXIT_SKIPPED = 1  # some lines were invalid and not sent; every valid one was

Message = tuple[bytes | None, bytes]  # key, value


def contact_key(line: bytes) -> bytes | None:
    """The message key of one line: its contact_id, or None when it has none."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    contact = obj.get("contact_id") if isinstance(obj, dict) else None
    return contact.encode() if isinstance(contact, str) and contact else None


def keyed_lines(lines: Iterable[bytes], keyed: bool = True) -> Iterator[Message]:
    """Every non-blank line without its surrounding whitespace, keyed by its contact id."""
    for line in lines:
        line = line.strip()
        if line:
            yield (contact_key(line) if keyed else None), line


def checked_lines(lines: Iterable[bytes], on_invalid: InvalidHandler) -> Iterator[Message]:
    """The non-blank lines that are valid events, keyed by contact id; the others go to
    `on_invalid(line_number, error)`.

    Valid is what the worker's decoding accepts (`decode_event`, which follows
    schemas/contact-event.schema.json); the worker's size, key and clock checks come after.
    """
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line:
            continue
        try:
            event = decode_event(line)
        except InvalidInput as error:
            on_invalid(number, error)
            continue
        yield event.contact_id.encode(), line


def raw_lines(lines: Iterable[bytes]) -> Iterator[Message]:
    """Every line exactly as it is but for its line break, blank ones too, keyed when it can be."""
    for line in lines:
        value = line.removesuffix(b"\n").removesuffix(b"\r")
        yield contact_key(value), value


async def send_messages(
    bootstrap: str,
    topic: str,
    messages: Iterable[Message],
    *,
    partitions: int | None = None,
    security: KafkaSecurity = PLAINTEXT,
) -> int:
    """Send every (key, value); returns how many were sent and acknowledged.

    With `partitions`, a missing topic is created with that many partitions first.
    """
    if partitions is not None:
        await ensure_topics(bootstrap, [topic], partitions, security)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=5,
        max_batch_size=512 * 1024,
        max_request_size=8 * 1024 * 1024,
        enable_idempotence=True,
        **security.client_options(),
    )
    await producer.start()
    sent = 0
    try:
        pending = []
        for key, value in messages:
            pending.append(await producer.send(topic, value, key=key))
            sent += 1
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await producer.flush()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent


async def produce_lines(
    bootstrap: str,
    topic: str,
    lines: Iterable[bytes],
    *,
    partitions: int | None = None,
    keyed: bool = True,
    security: KafkaSecurity = PLAINTEXT,
) -> int:
    """Send every non-blank line as one message, unchecked; returns how many were sent."""
    messages = keyed_lines(lines, keyed)
    return await send_messages(bootstrap, topic, messages, partitions=partitions, security=security)


@click.command("produce")
@click.argument("file", type=click.File("rb"))
@click.option(
    "--validate/--no-validate",
    default=True,
    show_default=True,
    help="Check each line as the worker will and send only valid events; or send every line "
    "as it is (to try the dead-letter topic).",
)
@setting_option("broker")
@setting_option("events_topic", "--topic")
@setting_option("partitions")
@setting_option("connect_timeout")
@loglevel_option()
def command(file: click.utils.LazyFile, validate: bool, **options: Any) -> None:
    """Send FILE (JSON lines, - for standard input) to the events topic, keyed by contact id.

    Each line is checked as the worker checks an event; an invalid one is reported on
    standard error with its line number and reason and not sent, and the valid ones are.
    A missing topic is created with the configured partitions. Exit status: 0 when every
    line was sent, 1 when some were invalid (fix them and send the file again: what was
    sent already counts as duplicates).
    """
    settings = settings_from(**options)
    security = KafkaSecurity.of(settings)
    require_broker(settings.bootstrap_servers(), settings.connect_timeout.total_seconds(), security)
    started = time.perf_counter()
    lines = track_lines(file, "produce", file_size(file), enabled=progress.wanted())
    skipped = Skipped()
    messages = checked_lines(lines, skipped) if validate else raw_lines(lines)
    sent = asyncio.run(
        send_messages(
            settings.bootstrap_servers(),
            settings.events_topic,
            messages,
            partitions=settings.partitions,
            security=security,
        )
    )
    took = time.perf_counter() - started
    rate = sent / took if took > 0 else 0.0
    what = plural(sent, "event") if validate else plural(sent, "line") + " unchecked"
    report = f"sent {what} to {settings.events_topic} in {took:.1f} s ({rate:,.0f}/s)"
    if skipped.total:
        report += f"; {skipped.summary()}, not sent"
    click.echo(report, err=True)
    sys.exit(EXIT_SKIPPED if skipped.total else 0)
