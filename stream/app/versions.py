"""The definition versions a worker knows: each loaded once, the one in force, and per
partition the version its states were written under."""

from __future__ import annotations

import logging
from collections.abc import Callable

from stream.app.ports import Metrics
from stream.app.processor import Partition
from stream.core.definitions import Version
from stream.core.evaluation.engine import Engine
from stream.core.language.ast import RuleSet
from stream.core.language.loader import load_text
from stream.errors import DefinitionError

log = logging.getLogger(__name__)


class Versions:
    """Engines by `rules_version`; `in_force` is the last good version the topic holds."""

    def __init__(self, start: Engine, make: Callable[[RuleSet], Engine], metrics: Metrics) -> None:
        self.start = start  # the --rules file's: what a meta without a version was written under
        self.in_force = start
        self.make = make
        self.metrics = metrics
        self.engines: dict[str, Engine] = {start.rules_version: start}

    def offer(self, record: Version) -> bool:
        """Load a version record of the topic; whether it changed the version in force.

        One that does not load with this segstream, or whose text is not the version its
        record names, is rejected with one log line and a count: the running version stays.
        """
        version = record.rules_version
        try:
            rules = load_text(record.text, record.source)
        except DefinitionError as error:
            self._reject(version, record.source, "; ".join(error.lines()))
            return False
        if rules.version_hash != version:
            self._reject(version, record.source, f"its text is version {rules.version_hash}")
            return False
        self.metrics.count("segstream_rule_versions_seen_total")
        engine = self.engines.get(version)
        if engine is None:
            engine = self.engines[version] = self.make(rules)
        if engine is self.in_force:
            return False
        self.in_force = engine
        log.info("definition version %s (from %s) is in force", version, record.source)
        return True

    def _reject(self, version: str, source: str, why: str) -> None:
        self.metrics.count("segstream_rule_versions_rejected_total")
        log.warning(
            "definition version %s (from %s) rejected, staying on version %s: %s",
            version, source, self.in_force.rules_version, why,
        )  # fmt: skip

    def place(self, part: Partition) -> None:
        """Give a newly loaded partition the engine its stored states were written under.

        A partition with no meta yet starts on the version in force; a meta without a
        version was written before the worker followed the topic, under its --rules file;
        a version this worker cannot load is rebuilt from history like an older one.
        """
        stored = part.rules_version
        if stored is None:
            fresh = part.watermark is None and not part.offsets
            engine = self.in_force if fresh else self.start
        else:
            engine = self.engines.get(stored, self.start)
        if engine is not part.engine:
            part.use(engine)
        if stored is None or stored in self.engines:
            part.rules_version = engine.rules_version
