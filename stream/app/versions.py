"""The definition versions a worker knows: each loaded once, the one in force, and per
partition the version its states were written under and the history it was rebuilt from."""

from __future__ import annotations

import logging
from collections.abc import Callable

from stream.app.ports import Metrics
from stream.app.processor import Partition
from stream.core.definitions import Version
from stream.core.evaluation.engine import Engine
from stream.core.language.ast import RuleSet
from stream.core.language.loader import load_text
from stream.core.undercount import History, undercounted
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
        self.sources: dict[str, str] = {}  # the file each version was published from

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
        self.sources[version] = record.source
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

    def source(self, version: str) -> str:
        """The file `version` was published from (`--rules` for one not read from the topic)."""
        return self.sources.get(version, "--rules")

    def log_undercounted(self, partition: int, engine: Engine, history: History) -> None:
        """Log one warning line per segment of `engine` that `history`, what `partition`'s
        rebuild re-read, may undercount."""
        for segment, why in undercounted(engine.rules, history).items():
            log.warning("%s: may be undercounted on partition %d: %s", segment, partition, why)

    def undercounted(self, part: Partition) -> dict[str, str]:
        """The segments of the version `part` runs that may be undercounted now, with why.

        The history is the one its last switch re-read, kept in its meta (`switched`), so
        any worker that loads the partition knows it; a partition whose meta has none (no
        switch to that version, or one made before the history was kept) names nothing. As
        its event time moves on, the windows fill with live events and the names fall away.
        """
        made = part.switched
        if (
            made is None
            or made["rules_version"] != part.engine.rules_version
            or made.get("history") is None
        ):
            return {}
        history = History(*made["history"])
        if part.watermark is not None and history.last is not None:
            history = history._replace(last=max(history.last, part.watermark))
        return undercounted(part.engine.rules, history)
