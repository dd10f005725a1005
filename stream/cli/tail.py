"""`segstream tail`: follow segment-changes, one readable line per change."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import click
from aiokafka import AIOKafkaConsumer

from stream.cli.failures import loglevel_option
from stream.cli.options import setting_option, settings_from
from stream.core import changes
from stream.core.changes import Change, LifecycleChange, SegmentChange
from stream.ops.probe import require_broker


def describe(change: Change) -> str:
    """One line for a person: when, who, what, why."""
    if isinstance(change, LifecycleChange):
        what = f"stage {change.from_ or '-'} -> {change.to or '-'}"
    else:
        sign = "+" if change.change == "entered" else "-"
        held = " (holdout)" if change.holdout else ""
        what = f"{sign}{change.segment}{held}"
    cause = change.cause_event_id
    why = change.reason + (f" {cause}" if cause else "")
    return f"{change.at}  {change.contact_id}  {what}  [{why}] #{change.seq}"


def matches(change: Change, segment: str | None, contact: str | None) -> bool:
    """Whether a change passes the --segment and --contact filters."""
    if contact is not None and change.contact_id != contact:
        return False
    return segment is None or (isinstance(change, SegmentChange) and change.segment == segment)


async def follow(
    bootstrap: str,
    topic: str,
    on_change: Callable[[Change], None],
    *,
    from_beginning: bool = True,
    stop: asyncio.Event | None = None,
) -> None:
    """Call `on_change` for every change message on `topic` until `stop` is set."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        while stop is None or not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    if record.value is not None:
                        on_change(changes.decode(record.value))
    finally:
        await consumer.stop()


@click.command("tail")
@click.option("--segment", default=None, help="Only changes of this segment.")
@click.option("--contact", default=None, help="Only changes of this contact.")
@click.option(
    "--from-beginning/--new-only",
    default=True,
    show_default=True,
    help="Start at the oldest change still on the topic, or only show new ones.",
)
@setting_option("broker")
@setting_option("changes_topic", "--topic")
@setting_option("connect_timeout")
@loglevel_option()
def command(segment: str | None, contact: str | None, from_beginning: bool, **options: Any) -> None:
    """Follow segment changes and print one line per change (Ctrl-C to stop)."""
    settings = settings_from(**options)
    require_broker(settings.bootstrap_servers(), settings.connect_timeout.total_seconds())

    def show(change: Change) -> None:
        if matches(change, segment, contact):
            click.echo(describe(change))

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            follow(
                settings.bootstrap_servers(),
                settings.changes_topic,
                show,
                from_beginning=from_beginning,
            )
        )
