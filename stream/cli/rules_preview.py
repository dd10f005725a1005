"""`segstream rules preview FILE`: what switching to FILE would change, by replay; changes nothing.

The history is replayed under each version to its end, and the memberships compared. The
events topic's history is replayed partition by partition, each with its own clock as the
worker keeps one per partition; an events file is replayed as `segstream replay` does.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import click
import orjson

from stream.app.history import read_history
from stream.cli.options import jobs_option, setting_option, settings_from
from stream.cli.replay_jobs import Checks, replayed
from stream.cli.rules import broker_options, connected, current, loaded_or_exit, rules, versions
from stream.core.definitions import statuses
from stream.core.events import check_future, check_size, decode_event
from stream.core.language.ast import RuleSet
from stream.core.language.loader import load_text
from stream.core.timefmt import format_ts
from stream.core.undercount import History, undercounted
from stream.errors import DefinitionError, InvalidInput
from stream.settings import Settings

EXAMPLES = 5  # example contacts per direction: the smallest ids, for the same answer each run
_MICROSECOND = timedelta(microseconds=1)


@dataclass(slots=True)
class Memberships:
    """Segment -> members at the end of the history, and the history's extent."""

    members: dict[str, set[str]] = field(default_factory=dict)
    events: int = 0
    first: int | None = None
    last: int | None = None

    def add(self, members: dict[str, list[str]]) -> None:
        for segment, contacts in members.items():
            self.members.setdefault(segment, set()).update(contacts)

    def extend(self, first: int | None, last: int | None) -> None:
        if first is not None and (self.first is None or first < self.first):
            self.first = first
        if last is not None and (self.last is None or last > self.last):
            self.last = last


def _evaluate(
    ruleset: RuleSet | None, files: list[str], jobs: int, checks: Checks, until: int | None
) -> Memberships:
    found = Memberships()
    if ruleset is None:
        return found
    for path in files:
        with replayed(ruleset, path, jobs, checks, until, keep_changes=False) as outcome:
            counts = outcome.counts
            found.events += counts.applied + counts.duplicate + counts.invalid
            for result in outcome.results:
                found.add(result.members)
                found.extend(result.first, result.last)
    return found


def _report(
    before_rules: RuleSet | None, after_rules: RuleSet, before: Memberships, after: Memberships
) -> dict[str, Any]:
    segments = []
    for segment_id, status in statuses(before_rules, after_rules).items():
        old = before.members.get(segment_id, set())
        new = after.members.get(segment_id, set())
        enter, leave = new - old, old - new
        segments.append(
            {
                "id": segment_id,
                "status": status,
                "before": len(old),
                "after": len(new),
                "enter": len(enter),
                "leave": len(leave),
                "examples": {
                    "enter": sorted(enter)[:EXAMPLES],
                    "leave": sorted(leave)[:EXAMPLES],
                },
            }
        )
    return {
        "from_version": None if before_rules is None else before_rules.version_hash,
        "to_version": after_rules.version_hash,
        "history": {
            "events": after.events,
            "first": None if after.first is None else format_ts(after.first),
            "last": None if after.last is None else format_ts(after.last),
        },
        "segments": segments,
    }


def _latest(files: list[str], checks: Checks) -> int | None:
    """The latest timestamp of the events in `files` that pass the worker's checks."""
    latest: int | None = None
    for path in files:
        with open(path, "rb") as source:
            for line in source:
                if not line.strip():
                    continue
                try:
                    if checks.max_bytes is not None:
                        check_size(line.rstrip(b"\r\n"), checks.max_bytes)
                    ts = decode_event(line, checks.limits).ts
                    if checks.wall_us is not None and checks.future_tolerance_us is not None:
                        check_future(ts, checks.wall_us, checks.future_tolerance_us)
                except InvalidInput:
                    continue
                if latest is None or ts > latest:
                    latest = ts
    return latest


def _checks(settings: Settings) -> Checks:
    return Checks(
        horizon_us=settings.dedupe_horizon // _MICROSECOND,
        limits=settings.limits(),
        max_bytes=settings.max_message_bytes,
        max_state_bytes=settings.max_state_bytes,
        wall_us=time.time_ns() // 1000,
        future_tolerance_us=settings.future_tolerance_us(),
    )


def _current_rules(settings: Settings, current_path: str | None) -> RuleSet | None:
    if current_path is not None:
        return loaded_or_exit(current_path)[0]
    version = current(versions(settings)[0])
    if version is None:
        return None
    try:
        return load_text(version.text, version.source)
    except DefinitionError as error:
        raise click.ClickException(
            f"the version in force ({version.rules_version}) does not load with this segstream: "
            f"{error}; pass --current FILE"
        ) from None


@rules.command("preview")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--events",
    "events_path",
    default=None,
    type=click.Path(dir_okay=False, exists=True),
    help="Replay this JSON-lines file instead of the events topic's retained history.",
)
@click.option(
    "--current",
    "current_path",
    default=None,
    type=click.Path(dir_okay=False),
    help="Take the current version from this file instead of the definitions topic.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object on standard output.")
@jobs_option("Processes each replay splits the contacts over, as replay --jobs does.")
@setting_option("events_topic", "--events-topic")
@broker_options
def preview_command(
    file: str,
    events_path: str | None,
    current_path: str | None,
    as_json: bool,
    jobs: int,
    **options: Any,
) -> None:
    """Say what publishing FILE would do to the memberships, and change nothing.

    Replays the history (the events topic's retained messages, or --events) under the
    current version and under FILE, and gives per segment (added, removed, changed,
    unchanged) the members at the end of the history under each, how many would enter and
    leave, and a few example contacts. Segments whose windows reach before the history's
    start are named on standard error as possibly undercounted. Exit status: 0, 2 when
    FILE (or --current) does not load, 3 when the broker cannot be reached, 1 when the
    version in force does not load with this segstream.
    """
    settings = settings_from(**options)
    after_rules = loaded_or_exit(file)[0]
    before_rules = _current_rules(settings, current_path)
    checks = _checks(settings)
    with tempfile.TemporaryDirectory(prefix="segstream-preview-") as work:
        truncated = False
        if events_path is not None:
            files = [events_path]
        else:
            bootstrap = settings.bootstrap_servers()
            security = connected(settings)
            history = asyncio.run(read_history(bootstrap, settings.events_topic, work, security))
            files = [h.path for h in history]
            truncated = any(h.truncated for h in history)
        # Each partition has its own clock; the memberships are compared at one instant.
        until = _latest(files, checks) if len(files) > 1 else None
        before = _evaluate(before_rules, files, jobs, checks, until)
        after = _evaluate(after_rules, files, jobs, checks, until)
    report = _report(before_rules, after_rules, before, after)
    retained = History(after.first, after.last, truncated)
    for segment_id, why in undercounted(after_rules, retained).items():
        click.echo(f"{segment_id}: may be undercounted: {why}", err=True)
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(report) + b"\n")
        return
    _print(report)


def _print(report: dict[str, Any]) -> None:
    history = report["history"]
    click.echo(
        f"preview: {report['from_version'] or 'no version'} -> {report['to_version']}; "
        f"history: {history['events']:,} events from {history['first']} to {history['last']}"
    )
    header = ("segment", "status", "before", "after", "enter", "leave")
    rows = [
        (s["id"], s["status"], f"{s['before']:,}", f"{s['after']:,}", f"{s['enter']:,}",
         f"{s['leave']:,}")
        for s in report["segments"]
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    for s in report["segments"]:
        for direction in ("enter", "leave"):
            if s["examples"][direction]:
                click.echo(f"{s['id']}: would {direction}: {', '.join(s['examples'][direction])}")
