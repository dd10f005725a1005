"""`segstream rules publish` and `rules history`: the versions on the definitions topic."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

import click

from stream.app.definitions import ensure_definitions_topic, publish, read_records
from stream.cli.failures import loglevel_option
from stream.cli.options import setting_option, settings_from
from stream.core import definitions
from stream.core.definitions import Switch, Version
from stream.core.language.ast import RuleSet
from stream.core.language.loader import load_file, load_text, summary
from stream.core.timefmt import format_ts
from stream.errors import DefinitionError
from stream.ops.kafka_security import KafkaSecurity
from stream.ops.probe import require_broker
from stream.settings import Settings

EXIT_RULES = 2


def broker_options(command: Any) -> Any:
    """The options every `rules` command that reads the definitions topic takes."""
    for option in reversed(
        (
            setting_option("broker"),
            setting_option("definitions_topic", "--topic"),
            setting_option("connect_timeout"),
            loglevel_option(),
        )
    ):
        command = option(command)
    return command


def loaded_or_exit(path: str) -> tuple[RuleSet, str]:
    """The definition file at `path` and its text; every load error and exit 2 otherwise."""
    try:
        rules = load_file(path)
        with open(path, encoding="utf-8-sig") as source:
            return rules, source.read()
    except DefinitionError as error:
        for line in error.lines():
            click.echo(line, err=True)
        sys.exit(EXIT_RULES)


def connected(settings: Settings) -> KafkaSecurity:
    """How to reach the broker, once it has answered (else exit 3 with one line)."""
    security = KafkaSecurity.of(settings)
    require_broker(settings.bootstrap_servers(), settings.connect_timeout.total_seconds(), security)
    return security


def versions(settings: Settings) -> tuple[list[Version], list[Switch]]:
    """The versions on the topic in publishing order, and the last switch of each partition."""
    security = connected(settings)
    records = asyncio.run(
        read_records(settings.bootstrap_servers(), settings.definitions_topic, security)
    )
    found = [record for _, record in records if isinstance(record, Version)]
    switches = [record for _, record in records if isinstance(record, Switch)]
    return found, switches


def current(found: list[Version]) -> Version | None:
    """The version in force: the last one published."""
    return found[-1] if found else None


@click.group("rules")
def rules() -> None:
    """Publish segment definitions to the running workers, list and preview versions."""


@rules.command("publish")
@click.argument("file", type=click.Path(dir_okay=False))
@broker_options
def publish_command(file: str, **options: Any) -> None:
    """Validate FILE and publish it as the new definition version.

    A file that does not load is rejected whole, with every error, and exit status 2:
    nothing is published. A file whose version is the one in force already is not
    published again (exit 0). The topic is created (one partition, compacted) if missing.
    Exit status 3 when the broker cannot be reached.
    """
    settings = settings_from(**options)
    ruleset, text = loaded_or_exit(file)
    found, _ = versions(settings)
    latest = current(found)
    if latest is not None and latest.rules_version == ruleset.version_hash:
        click.echo(f"{file}: version {ruleset.version_hash} is in force already; not published")
        return
    record = Version(ruleset.version_hash, time.time_ns() // 1000, os.path.basename(file), text)
    bootstrap, security = settings.bootstrap_servers(), KafkaSecurity.of(settings)
    asyncio.run(ensure_definitions_topic(bootstrap, settings.definitions_topic, security))
    asyncio.run(publish(bootstrap, settings.definitions_topic, record, security))
    before = None if latest is None else _loaded(latest)
    click.echo(
        f"published {file} as version {ruleset.version_hash} to {settings.definitions_topic}: "
        f"{summary(ruleset)}; {definitions.summary(before, ruleset)}"
    )


@rules.command("history")
@broker_options
def history_command(**options: Any) -> None:
    """List the published versions, oldest first: id, when published and switched to, changes.

    `switched` is the time of the last partition switch a worker group recorded to the
    version (per group: partitions switched, of the group's partitions seen).
    """
    settings = settings_from(**options)
    found, switches = versions(settings)
    if not found:
        click.echo(f"no version published to {settings.definitions_topic} yet")
        return
    before: RuleSet | None = None
    for version in found:
        after = _loaded(version)
        what = "does not load" if after is None else definitions.summary(before, after)
        click.echo(
            f"{version.rules_version}  published {format_ts(version.published_at)}  "
            f"from {version.source}  {_switched(version, switches)}  {what}"
        )
        before = after if after is not None else before


def _switched(version: Version, switches: list[Switch]) -> str:
    mine = [s for s in switches if s.rules_version == version.rules_version]
    if not mine:
        return "switched: no"
    groups: dict[str, list[Switch]] = {}
    for switch in mine:
        groups.setdefault(switch.group, []).append(switch)
    parts = []
    for group, done in sorted(groups.items()):
        seen = {s.partition for s in switches if s.group == group}
        parts.append(
            f"{group} {len(done)}/{len(seen)} partitions, last {format_ts(max(s.at for s in done))}"
        )
    return "switched: " + ", ".join(parts)


def _loaded(version: Version) -> RuleSet | None:
    try:
        return load_text(version.text, version.source)
    except DefinitionError:
        return None


command = rules
