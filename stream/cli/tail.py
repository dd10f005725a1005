"""`segstream tail`: follow segment changes or dead letters, one readable line each."""

from __future__ import annotations

import asyncio
import contextlib
import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import orjson
from aiokafka import AIOKafkaConsumer

from stream.cli.describe import describe, describe_dead_letter, segment_labels
from stream.cli.failures import loglevel_option
from stream.cli.materialize import load_rules
from stream.cli.options import setting_option, settings_from
from stream.core import changes
from stream.core.changes import Change, SegmentChange
from stream.core.language.ast import RuleSet
from stream.ops.kafka_security import PLAINTEXT, KafkaSecurity
from stream.ops.probe import require_broker

OnMessage = Callable[[int, int, bytes], None]  # partition, offset, value


def matches(change: Change, segment: str | None, contact: str | None) -> bool:
    """Whether a change passes the --segment and --contact filters."""
    if contact is not None and change.contact_id != contact:
        return False
    return segment is None or (isinstance(change, SegmentChange) and change.segment == segment)


async def follow(
    bootstrap: str,
    topic: str,
    on_message: OnMessage,
    *,
    from_beginning: bool = True,
    stop: asyncio.Event | None = None,
    security: KafkaSecurity = PLAINTEXT,
) -> None:
    """Call `on_message` for every message with a value on `topic` until `stop` is set."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
        isolation_level="read_committed",
        **security.client_options(),
    )
    await consumer.start()
    try:
        while stop is None or not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    if record.value is not None:
                        on_message(record.partition, record.offset, record.value)
    finally:
        await consumer.stop()


def _check_segment(segment: str | None, rules: RuleSet | None, path: Path | None) -> None:
    """A usage error for a --segment the rules do not define (when the rules are known)."""
    if segment is None or rules is None:
        return
    ids = [s.id for s in rules.segments]
    if segment in ids:
        return
    close = difflib.get_close_matches(segment, ids, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise click.UsageError(
        f"--segment: {path} has no segment {segment!r}{hint}; it defines {', '.join(ids)}"
    )


def _show_changes(
    labels: dict[str, str], segment: str | None, contact: str | None, as_json: bool
) -> OnMessage:
    def show(partition: int, offset: int, value: bytes) -> None:
        try:
            change = changes.decode(value)
        except ValueError as error:  # someone else wrote to the topic: say so, go on
            click.echo(f"partition {partition} offset {offset}: skipped: {error}", err=True)
            return
        if matches(change, segment, contact):
            click.echo(value if as_json else describe(change, labels))

    return show


def _show_dead_letters(as_json: bool) -> OnMessage:
    def show(partition: int, offset: int, value: bytes) -> None:
        if as_json:
            click.echo(value)
            return
        try:
            lines = describe_dead_letter(orjson.loads(value))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            click.echo(f"partition {partition} offset {offset}: not a dead letter: {value!r:.300}")
            return
        for line in lines:
            click.echo(line)

    return show


@click.command("tail")
@click.option("--segment", default=None, help="Only changes of this segment.")
@click.option("--contact", default=None, help="Only changes of this contact.")
@setting_option(
    "rules_file", "--rules", type=click.Path(dir_okay=False, exists=True, path_type=Path)
)
@click.option(
    "--dead-letters",
    is_flag=True,
    help="Follow the dead-letter topic instead: reason, detail, where from, the original.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the messages as they are, raw JSON.")
@click.option(
    "--from-beginning/--new-only",
    default=True,
    show_default=True,
    help="Start at the oldest message still on the topic, or only show new ones.",
)
@setting_option("broker")
@setting_option("changes_topic", "--topic")
@setting_option("connect_timeout")
@loglevel_option()
@setting_option("dlq_topic")
def command(
    segment: str | None,
    contact: str | None,
    dead_letters: bool,
    as_json: bool,
    from_beginning: bool,
    **options: Any,
) -> None:
    """Follow segment changes and print one line per change (Ctrl-C to stop).

    Segments are shown by name and id, as the rules (--rules, else SEGSTREAM_RULES_FILE)
    call them; without rules, by id. Times are UTC, to the minute.
    """
    settings = settings_from(**options)
    if dead_letters:
        if segment is not None or contact is not None:
            raise click.UsageError("--segment and --contact filter changes, not dead letters")
        topic, show = settings.dlq_topic, _show_dead_letters(as_json)
    else:
        rules = load_rules(settings.rules_file)
        _check_segment(segment, rules, settings.rules_file)
        labels = segment_labels(rules)
        topic, show = settings.changes_topic, _show_changes(labels, segment, contact, as_json)
    bootstrap, security = settings.bootstrap_servers(), KafkaSecurity.of(settings)
    require_broker(bootstrap, settings.connect_timeout.total_seconds(), security)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            follow(bootstrap, topic, show, from_beginning=from_beginning, security=security)
        )
