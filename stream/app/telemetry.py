"""What the worker reports about itself at each scrape: its readiness, lag and state.

The metrics that grow as the worker goes are `stream.ops.metrics.Counters`; the ones here
are read when Prometheus asks: per loaded partition its counts and pending deadlines, the
lag of the owned partitions (measured every `LAG_EVERY_S` by `LagWatch`, exactly as
`segstream lag` does), the restore's progress, readiness, the definition versions the
partitions run and the segments a rebuild may have undercounted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from aiokafka.structs import TopicPartition
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from stream.app.assignment import Assignment, Readiness
from stream.app.runtime import Runtime
from stream.app.versions import Versions
from stream.ops.kafka_security import PLAINTEXT, KafkaSecurity
from stream.ops.lag import STATUSES, Report, Windows
from stream.ops.metrics import PARTITION_COUNTS, ScrapedName
from stream.ops.offsets import OffsetReader, take_sample

log = logging.getLogger(__name__)

LAG_EVERY_S = 5.0  # between two lag samples of the owned partitions
LAG_WINDOW = 10  # samples a partition's lag status is judged over (as `segstream lag`)
STOP_AFTER_MS = 5 * 60 * 1000  # `segstream lag --stop-after`'s default


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class LagWatch:
    """The lag of the input partitions this worker owns, sampled as `segstream lag` does."""

    def __init__(
        self,
        bootstrap: str,
        group: str,
        topics: tuple[str, ...],
        assignment: Assignment,
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        self.bootstrap = bootstrap
        self.security = security
        self.group = group
        self.topics = topics
        self.assignment = assignment
        self.windows = Windows(LAG_WINDOW, STOP_AFTER_MS)
        self.report: Report | None = None
        self._reader: OffsetReader | None = None

    async def sample(self) -> None:
        """Take one sample; a failure is logged and the last report kept."""
        owned = self.assignment.owned() if self.assignment.settled() else []
        tps = [TopicPartition(topic, n) for topic in self.topics for n in owned]
        try:
            if self._reader is None:
                self._reader = OffsetReader(
                    self.bootstrap, self.group, lookback_ms=STOP_AFTER_MS, security=self.security
                )
                await self._reader.start()
            self.report = await take_sample(self._reader, tps, self.windows, _now_ms)
        except Exception as error:  # the broker may be away for a while; the worker goes on
            log.warning("measuring the consumer lag failed, will retry: %r", error)
            await self.close()

    async def close(self) -> None:
        """Disconnect from the broker (the next sample connects again)."""
        reader, self._reader = self._reader, None
        if reader is not None:
            await reader.close()


def remaining(app: Any) -> tuple[int, int]:
    """Changelog records left to restore: (active, standby)."""
    recovery = app.tables.recovery
    return recovery.active_remaining_total(), recovery.standby_remaining_total()


def readiness(runtime: Runtime, app: Any) -> Readiness:
    """The worker's readiness: every owned partition restored and its deadlines loaded."""
    loaded = {n for n, _ in runtime.partitions.loaded()}
    return runtime.assignment.readiness(loaded, remaining(app)[0])


def _family(name: ScrapedName) -> str:
    """The name prometheus-client wants: the exposed one without its type's suffix."""
    return name.removesuffix("_total").removesuffix("_info")


class WorkerCollector(Collector):
    """Reads the worker's scrape-time metrics (`stream.ops.metrics.ScrapedName`)."""

    def __init__(
        self, runtime: Runtime, app: Any, versions: Versions, lag: LagWatch | None
    ) -> None:
        self.runtime = runtime
        self.app = app
        self.versions = versions
        self.lag = lag

    def collect(self) -> Iterator[Metric]:
        events = CounterMetricFamily(
            _family("segstream_events_total"),
            "Input messages by how they ended, per input partition (kept across restarts).",
            labels=["partition", "outcome"],
        )
        pending = GaugeMetricFamily(
            "segstream_pending_deadlines", "Armed deadlines.", labels=["partition"]
        )
        for number, part in self.runtime.partitions.loaded():
            for outcome in PARTITION_COUNTS:
                events.add_metric([str(number), outcome], getattr(part.counts, outcome))
            pending.add_metric([str(number)], part.pending_deadlines)
        yield events
        yield pending
        yield from self._lag()
        active, standby = remaining(self.app)
        restore = GaugeMetricFamily(
            "segstream_recovery_records_remaining",
            "Changelog records left to restore.",
            labels=["kind"],
        )
        restore.add_metric(["active"], active)
        restore.add_metric(["standby"], standby)
        yield restore
        ready = readiness(self.runtime, self.app).ready
        yield GaugeMetricFamily("segstream_ready", "1 when /readyz answers 200.", int(ready))
        yield from self._rules()

    def _rules(self) -> Iterator[Metric]:
        """The versions the loaded partitions run (the one in force when none is loaded), and
        per partition the segments its rebuild's history may undercount."""
        loaded = self.runtime.partitions.loaded()
        running = {part.engine.rules_version: part.engine for _, part in loaded}
        if not running:
            in_force = self.versions.in_force
            running = {in_force.rules_version: in_force}
        info = InfoMetricFamily(
            _family("segstream_rules_info"), "A definition version the partitions run."
        )
        segments = GaugeMetricFamily(
            "segstream_rules_segments", "Segments in the version.", labels=["rules_version"]
        )
        for version, engine in sorted(running.items()):
            source = self.versions.source(version)
            labels = {"rules_version": version, "source": source, "hash": version}
            info.add_metric([], {**labels, "version": str(engine.rules.version)})
            segments.add_metric([version], len(engine.rules.segments))
        under = GaugeMetricFamily(
            "segstream_rules_undercounted_segments",
            "Segments that may be undercounted: too short a history re-read for the switch.",
            labels=["partition"],
        )
        for number, part in loaded:
            under.add_metric([str(number)], len(self.versions.undercounted(part)))
        yield info
        yield segments
        yield under

    def _lag(self) -> Iterator[Metric]:
        labels = ["topic", "partition"]
        messages = GaugeMetricFamily(
            "segstream_consumer_lag_messages", "Messages after the committed offset.", labels=labels
        )
        seconds = GaugeMetricFamily(
            "segstream_consumer_lag_seconds", "Age of the oldest unconsumed message.", labels=labels
        )
        status = GaugeMetricFamily(
            "segstream_consumer_lag_status",
            "1 for the partition's lag status (after Burrow's rules), 0 for the others.",
            labels=[*labels, "status"],
        )
        report = self.lag.report if self.lag is not None else None
        for row in report.rows if report is not None else ():
            where = [row.topic, str(row.partition)]
            messages.add_metric(where, row.sample.lag)
            if row.sample.lag_seconds is not None:  # unknown stays absent, never NaN
                seconds.add_metric(where, row.sample.lag_seconds)
            for name in STATUSES:
                status.add_metric([*where, name], int(row.status == name))
        yield messages
        yield seconds
        yield status
