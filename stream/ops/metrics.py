"""Metric names, typed so that a misspelt one is a type error, and the counters behind them.

Two sets: the status file's counters (`PartitionCount`, `ProcessMetric`), and the worker's
Prometheus metrics (`MetricName`), served on `/metrics` (stream/app/web.py). Prometheus
names follow its conventions: a `segstream_` prefix, `_total` on counters, base units
(`_seconds`). Those made as the worker goes (`CounterName`, `HistogramName`) live in
`Counters`; the others are read from the worker's state when Prometheus scrapes
(`stream.app.telemetry`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Literal, get_args

from prometheus_client import CollectorRegistry, disable_created_metrics
from prometheus_client import Counter as PromCounter
from prometheus_client import Histogram as PromHistogram
from prometheus_client.registry import Collector

# Per input partition, persisted with the partition's state (exact across restarts).
PartitionCount = Literal[
    # input events applied to a contact's state
    "applied",
    # input events recognised as a repeat of an applied event id
    "duplicate",
    # input messages sent to the dead-letter topic with a reason
    "dead_lettered",
    # input messages re-sent to the repartition topic under their contact id
    "rekeyed",
]

# Per worker process, since it started.
ProcessMetric = Literal[
    # input messages taken from Kafka (all outcomes)
    "events_in",
    # change messages published to segment-changes
    "changes_out",
    # envelopes published to the dead-letter topic
    "dead_letters_out",
]

# prometheus-client adds a `_created` series beside every counter and histogram by default:
# twice the series, and nothing here (alerts, panels) reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped upstream

PARTITION_COUNTS: tuple[PartitionCount, ...] = get_args(PartitionCount)
PROCESS_METRICS: tuple[ProcessMetric, ...] = get_args(ProcessMetric)

# Counted as batches become durable, since the process started.
CounterName = Literal[
    # dead letters published, by reason (the envelope's `reason`, e.g. invalid_json)
    "segstream_dead_letters_total",
    # change messages published, by kind (segment, lifecycle) and reason (event, profile,
    # time, rules)
    "segstream_changes_total",
    # rebalances this worker went through (each starts with a revocation)
    "segstream_rebalances_total",
    # definition versions read from the definitions topic that loaded
    "segstream_rule_versions_seen_total",
    # definition versions read from the definitions topic that did not load (ignored)
    "segstream_rule_versions_rejected_total",
    # input partitions rebuilt and switched to a new definition version
    "segstream_rule_switches_total",
]

# Observed as the worker goes, since the process started.
HistogramName = Literal[
    # from an input record's Kafka timestamp to the broker acknowledging the changes it caused
    "segstream_event_to_change_seconds",
    # how far past its instant a deadline fired, on the partition's clock
    "segstream_deadline_lateness_seconds",
    # one batch, by phase: apply (records and deadlines) and flush (outputs, then state)
    "segstream_batch_duration_seconds",
]

# Read from the worker's state at each scrape.
ScrapedName = Literal[
    # input messages by how they ended (outcome: applied, duplicate, dead_lettered, rekeyed),
    # per input partition: a counter persisted with the partition, continuing across restarts
    "segstream_events_total",
    # armed deadlines per loaded input partition
    "segstream_pending_deadlines",
    # messages of an owned partition after the group's committed offset, by topic and partition
    "segstream_consumer_lag_messages",
    # age of the oldest of those messages, read from its record (0 when there is none)
    "segstream_consumer_lag_seconds",
    # 1 for the partition's lag status after Burrow's rules (status: OK, WARN, STALL, STOP,
    # REWIND), 0 for the others
    "segstream_consumer_lag_status",
    # changelog records left to restore, by kind (active, standby)
    "segstream_recovery_records_remaining",
    # 1 when /readyz answers 200: every assigned partition recovered and loaded
    "segstream_ready",
    # a definition version the loaded partitions run (the one in force when none is
    # loaded): labels rules_version (the version hash change messages carry; also as hash),
    # source (the file it was published from) and version (its `version`); always 1
    "segstream_rules_info",
    # segments defined in such a version, by rules_version
    "segstream_rules_segments",
    # segments that may be undercounted per loaded input partition: its rebuild for the
    # version it runs re-read a history shorter than their windows (0 when not rebuilt here)
    "segstream_rules_undercounted_segments",
]

MetricName = CounterName | HistogramName | ScrapedName
METRIC_NAMES: tuple[str, ...] = (*get_args(CounterName), *get_args(HistogramName),
                                 *get_args(ScrapedName))  # fmt: skip

_COUNTERS: dict[CounterName, tuple[str, tuple[str, ...]]] = {
    "segstream_dead_letters_total": ("Dead letters published, by reason.", ("reason",)),
    "segstream_changes_total": ("Change messages published.", ("kind", "reason")),
    "segstream_rebalances_total": ("Rebalances this worker went through.", ()),
    "segstream_rule_versions_seen_total": ("Definition versions read that loaded.", ()),
    "segstream_rule_versions_rejected_total": ("Definition versions read that did not load.", ()),
    "segstream_rule_switches_total": ("Partitions switched to a new definition version.", ()),
}
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_HISTOGRAMS: dict[HistogramName, tuple[str, tuple[str, ...], Sequence[float]]] = {
    "segstream_event_to_change_seconds": (
        "From an input record's timestamp to its changes being acknowledged.",
        (),
        _LATENCY_BUCKETS,
    ),
    "segstream_deadline_lateness_seconds": (
        "How far past its instant a deadline fired.",
        (),
        (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
    ),
    "segstream_batch_duration_seconds": (
        "Time one batch took, by phase (apply, flush).",
        ("phase",),
        (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    ),
}


class Counters:
    """The worker's process metrics, in memory: the status file's counters and the
    Prometheus counters and histograms (`registry`, where the scrape-time ones join them)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self.registry = CollectorRegistry(auto_describe=True)
        self._counters = {
            name: PromCounter(name.removesuffix("_total"), doc, labels, registry=self.registry)
            for name, (doc, labels) in _COUNTERS.items()
        }
        self._histograms = {
            name: PromHistogram(name, doc, labels, registry=self.registry, buckets=buckets)
            for name, (doc, labels, buckets) in _HISTOGRAMS.items()
        }

    def add(self, name: ProcessMetric, amount: int = 1) -> None:
        """Count `amount` more of metric `name`."""
        self._counts[name] += amount

    def snapshot(self) -> dict[str, int]:
        """Every counter's current value (a counter never added to is absent)."""
        return dict(self._counts)

    def count(self, name: CounterName, amount: float = 1, **labels: str) -> None:
        """Add `amount` to Prometheus counter `name` with `labels`."""
        counter = self._counters[name]
        (counter.labels(**labels) if labels else counter).inc(amount)

    def observe(self, name: HistogramName, value: float, **labels: str) -> None:
        """Observe `value` in Prometheus histogram `name` with `labels`."""
        histogram = self._histograms[name]
        (histogram.labels(**labels) if labels else histogram).observe(value)

    def collect_with(self, collector: Collector) -> None:
        """Serve `collector`'s metrics with these (the ones read at each scrape)."""
        self.registry.register(collector)
