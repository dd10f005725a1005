"""The definitions topic at a worker's start: its --rules file published if new, the versions read.

`--rules FILE` is published when the topic holds no version of FILE's (no version at all,
or only others): FILE is then newer than what the topic has. When the topic holds FILE's
version and a later one, the topic has moved on and wins, so that every worker of a group
runs the topic's version whatever file it was started with; a rollback is `rules publish`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from stream.app.definitions import ensure_definitions_topic, publish, read_records
from stream.app.versions import Versions
from stream.core.definitions import Version
from stream.core.language.ast import RuleSet
from stream.ops.kafka_security import KafkaSecurity

log = logging.getLogger(__name__)


async def definitions_at_start(
    bootstrap: str,
    security: KafkaSecurity,
    topic: str,
    rules: RuleSet,
    rules_file: Path | None,
    versions: Versions,
) -> int:
    """Publish the --rules file if the topic does not hold its version, then offer every
    version record to `versions`; returns the offset to follow the topic from."""
    await ensure_definitions_topic(bootstrap, topic, security)
    records = await read_records(bootstrap, topic, security)
    published = {r.rules_version for _, r in records if isinstance(r, Version)}
    follow_from = records[-1][0] + 1 if records else 0
    if rules.version_hash not in published and rules_file is not None:
        text = rules_file.read_text(encoding="utf-8-sig")
        record = Version(rules.version_hash, time.time_ns() // 1000, rules_file.name, text)
        offset = await publish(bootstrap, topic, record, security)
        log.info("published %s as version %s to %s", rules_file, rules.version_hash, topic)
        records.append((offset, record))
        follow_from = offset + 1
    for _, found in records:
        if isinstance(found, Version):
            versions.offer(found)
    return follow_from
