"""The worker's readiness and its /metrics, over the in-memory ports and a stand-in Faust app."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from aiokafka.structs import TopicPartition
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from stream.app.assignment import Assignment
from stream.app.processor import Partition, Policy
from stream.app.runtime import Runtime
from stream.app.telemetry import WorkerCollector
from stream.app.topics import OutputTopics, TopicNames
from stream.app.versions import Versions
from stream.core.definitions import Version
from stream.core.evaluation.engine import Engine
from stream.core.language.loader import load_text
from stream.core.undercount import History
from stream.ops.metrics import METRIC_NAMES, Counters
from stream.testing.fakes import FixedClock, MemoryStore, RecordingSink

RULES = load_text(
    "version: 1\nsegments:\n  - id: visitors\n    when: {event: page_view}\n"
    "  - id: recent\n    when: {event: page_view, within: 1h}\n",
    "rules.yaml",
)
TOPICS = TopicNames("events", "events-repartition", "changes", "dlq", "state-changelog")
SECOND = 1_000_000


def _app(owned: list[int], *, in_recovery: bool = False, rebalancing: bool = False) -> Any:
    tps = {TopicPartition("events", n) for n in owned}
    tps.add(TopicPartition("state-changelog", 9))  # not an input partition
    recovery = SimpleNamespace(active_remaining_total=lambda: 12, standby_remaining_total=lambda: 3)
    return SimpleNamespace(
        in_recovery=in_recovery,
        rebalancing=rebalancing,
        assignor=SimpleNamespace(assigned_actives=lambda: tps),
        tables=SimpleNamespace(recovery=recovery),
    )


def _runtime(app: Any, metrics: Counters, clock: FixedClock) -> Runtime:
    store = MemoryStore()
    return Runtime(
        Engine(RULES),
        Policy(clock="event"),
        store=store,
        sink=RecordingSink(store, TOPICS, source="urn:test", clock=clock),
        clock=clock,
        metrics=metrics,
        fail=pytest.fail,
        assignment=Assignment(app, TOPICS.events),
        outputs=OutputTopics(()),
    )


def _versions(metrics: Counters) -> Versions:
    return Versions(Engine(RULES), Engine, metrics)


def _message(offset: int, value: bytes, key: bytes | None, partition: int = 0) -> Any:
    return SimpleNamespace(
        message=SimpleNamespace(
            topic="events", partition=partition, offset=offset, key=key, value=value,
            timestamp=100.0,
        )
    )  # fmt: skip


def _view(contact: str, ts: str, event_id: str) -> bytes:
    event = {"event_id": event_id, "contact_id": contact, "type": "page_view", "timestamp": ts}
    return orjson.dumps(event)


def test_readiness_follows_start_up_recovery_rebalances_and_loading() -> None:
    app = _app([0, 2])
    assignment = Assignment(app, "events")
    assert assignment.readiness(set(), 0).reason == "starting"
    app.in_recovery = True
    found = assignment.readiness(set(), 12)
    assert (found.ready, found.reason) == (False, "recovering")
    assert "12 records left" in found.detail
    app.in_recovery = False
    assignment.mark_restored()
    assert assignment.readiness({0}, 0).to_json() == {
        "ready": False,
        "reason": "loading",
        "detail": "loading the deadline index of partitions [2]",
        "partitions": [0, 2],
    }
    assert assignment.readiness({0, 2}, 0).ready
    app.rebalancing = True
    assert assignment.readiness({0, 2}, 0).reason == "rebalancing"
    app.rebalancing = False
    assignment.revoked()
    assert assignment.readiness({0, 2}, 0).reason == "rebalancing"
    assert assignment.rebalances == 1


def test_no_assigned_partition_is_ready() -> None:
    assignment = Assignment(_app([]), "events")
    assignment.mark_restored()
    assert assignment.readiness(set(), 0).ready


def _samples(metrics: Counters) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_count_what_batches_published_and_read_state_at_scrape() -> None:
    app = _app([0])
    clock = FixedClock(101 * SECOND)  # the durable batch is stamped 1 s after its records
    metrics = Counters()
    runtime = _runtime(app, metrics, clock)
    metrics.collect_with(WorkerCollector(runtime, app, _versions(metrics), lag=None))
    runtime.mark_restored()

    async def acknowledge() -> None:
        pass

    batch = [
        _message(0, _view("c-1", "2026-11-20T10:00:00Z", "e-1"), b"c-1"),
        _message(1, _view("c-1", "2026-11-20T10:00:00Z", "e-1"), b"c-1"),  # a duplicate
        _message(2, b"{not json", b"c-2"),  # a dead letter
        _message(3, _view("c-3", "2026-11-20T12:00:00Z", "e-3"), b"c-3"),  # c-1 leaves recent
    ]
    await runtime.process(batch, acknowledge)
    await runtime.settle()
    await runtime.tick()  # loads partition 0's deadline index: ready
    got = _samples(metrics)

    def value(name: str, **labels: str) -> float:
        return got[(name, tuple(sorted(labels.items())))]

    part = runtime.partitions.get(0)
    for outcome in ("applied", "duplicate", "dead_lettered", "rekeyed"):
        expected = getattr(part.counts, outcome)
        assert value("segstream_events_total", partition="0", outcome=outcome) == expected
    assert (part.counts.applied, part.counts.duplicate, part.counts.dead_lettered) == (2, 1, 1)
    assert value("segstream_dead_letters_total", reason="not_json") == 1
    # c-1 and c-3 enter both segments; c-1 leaves `recent` when its hour is up (reason time).
    assert value("segstream_changes_total", kind="segment", reason="event") == 4
    assert value("segstream_changes_total", kind="segment", reason="time") == 1
    assert value("segstream_event_to_change_seconds_count") == 4
    assert value("segstream_event_to_change_seconds_sum") == pytest.approx(4.0)
    assert value("segstream_deadline_lateness_seconds_count") == 1
    assert value("segstream_deadline_lateness_seconds_sum") == pytest.approx(3600.0)
    assert value("segstream_batch_duration_seconds_count", phase="apply") == 1
    assert value("segstream_batch_duration_seconds_count", phase="flush") == 1
    assert value("segstream_pending_deadlines", partition="0") == part.pending_deadlines
    assert value("segstream_recovery_records_remaining", kind="active") == 12
    assert value("segstream_ready") == 1
    rules_version = RULES.version_hash
    info = {"hash": rules_version, "rules_version": rules_version, "version": "1"}
    assert value("segstream_rules_info", **info, source="--rules") == 1
    assert value("segstream_rules_segments", rules_version=rules_version) == 2
    assert value("segstream_rules_undercounted_segments", partition="0") == 0
    assert metrics.snapshot()["changes_out"] == 5


def test_every_named_metric_is_exported_and_nothing_unnamed_is() -> None:
    app = _app([0])
    metrics = Counters()
    runtime = _runtime(app, metrics, FixedClock())
    metrics.collect_with(WorkerCollector(runtime, app, _versions(metrics), lag=None))
    runtime.partitions.get(0)
    metrics.count("segstream_changes_total", kind="segment", reason="event")
    metrics.count("segstream_dead_letters_total", reason="invalid_json")
    metrics.count("segstream_rebalances_total")
    metrics.observe("segstream_batch_duration_seconds", 0.01, phase="apply")
    families = {
        f.name: f.type
        for f in text_string_to_metric_families(generate_latest(metrics.registry).decode())
        if f.samples
    }
    exposed = {name + ("_total" if kind == "counter" else "") for name, kind in families.items()}
    exposed = {n + "_info" if families.get(n) == "info" else n for n in exposed}
    lag_named = {n for n in METRIC_NAMES if n.startswith("segstream_consumer_lag")}
    assert exposed == set(METRIC_NAMES) - lag_named  # lag series only once a sample was taken


A_TEXT = "version: 1\nsegments:\n  - id: visitors\n    when: {event: page_view}\n"
B_TEXT = (
    "version: 1\nsegments:\n  - id: visitors\n    when: {event: page_view}\n"
    "  - id: monthly\n    when: {event: page_view, within: 30d}\n"
    "  - id: weekly\n    when: {event: page_view, within: 7d}\n"
)
A, B = load_text(A_TEXT, "a.yaml"), load_text(B_TEXT, "b.yaml")
DAY = 86_400_000_000
START = 1_790_000_000_000_000


def _rules_samples(
    metrics: Counters, prefix: str
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {key: value for key, value in _samples(metrics).items() if key[0].startswith(prefix)}


def _info(rules_version: str, source: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    labels = {"hash": rules_version, "rules_version": rules_version, "source": source}
    return "segstream_rules_info", tuple(sorted({**labels, "version": "1"}.items()))


def _two_partitions() -> tuple[Counters, Versions, Runtime]:
    metrics = Counters()
    versions = Versions(Engine(A), Engine, metrics)
    versions.offer(Version(A.version_hash, 0, "a.yaml", A_TEXT))
    app = _app([0, 1])
    runtime = _runtime(app, metrics, FixedClock())
    metrics.collect_with(WorkerCollector(runtime, app, versions, lag=None))
    return metrics, versions, runtime


def test_rules_info_describes_the_versions_the_partitions_run() -> None:
    metrics, versions, runtime = _two_partitions()
    # No partition loaded: the version in force, from the file it was published from.
    assert _rules_samples(metrics, "segstream_rules_info") == {_info(A.version_hash, "a.yaml"): 1}
    versions.offer(Version(B.version_hash, 1, "b.yaml", B_TEXT))
    assert _rules_samples(metrics, "segstream_rules_info") == {_info(B.version_hash, "b.yaml"): 1}

    zero, one = runtime.partitions.get(0), runtime.partitions.get(1)
    zero.use(versions.engines[A.version_hash])
    one.use(versions.engines[A.version_hash])
    assert _rules_samples(metrics, "segstream_rules_") == {
        _info(A.version_hash, "a.yaml"): 1,
        ("segstream_rules_segments", (("rules_version", A.version_hash),)): 1,
        ("segstream_rules_undercounted_segments", (("partition", "0"),)): 0,
        ("segstream_rules_undercounted_segments", (("partition", "1"),)): 0,
    }
    one.use(versions.engines[B.version_hash])  # switched; partition 0 not yet: both
    found = _rules_samples(metrics, "segstream_rules_")
    assert {k: v for k, v in found.items() if k[0] == "segstream_rules_info"} == {
        _info(A.version_hash, "a.yaml"): 1,
        _info(B.version_hash, "b.yaml"): 1,
    }
    assert found[("segstream_rules_segments", (("rules_version", B.version_hash),))] == 3
    zero.use(versions.engines[B.version_hash])
    found = _rules_samples(metrics, "segstream_rules_info")
    assert found == {_info(B.version_hash, "b.yaml"): 1}


def test_a_short_rebuild_history_is_logged_at_the_switch_and_counted_until_the_windows_fill(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics, versions, runtime = _two_partitions()
    versions.offer(Version(B.version_hash, 1, "b.yaml", B_TEXT))
    engine = versions.engines[B.version_hash]
    part = runtime.partitions.get(1)
    runtime.partitions.get(0)  # never rebuilt here: 0
    part.use(engine)
    part.watermark = START + 5 * DAY
    caplog.clear()
    history = History(START, START + 5 * DAY, truncated=False)
    with caplog.at_level(logging.WARNING, "stream.app.versions"):
        versions.log_undercounted(1, engine, history)
    part.note_switched(START + 5 * DAY, history)  # as the switch does, in the meta
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "monthly: may be undercounted on partition 1: a window of 30d is longer than the "
        "history (5.0 days)",
        "weekly: may be undercounted on partition 1: a window of 1w is longer than the "
        "history (5.0 days)",
    ]

    def gauge(partition: str) -> float:
        name = "segstream_rules_undercounted_segments"
        return _rules_samples(metrics, name)[(name, (("partition", partition),))]

    assert (gauge("0"), gauge("1")) == (0, 2)
    part.watermark = START + 7 * DAY  # live events fill the week's window
    assert gauge("1") == 1
    part.watermark = START + 30 * DAY
    assert gauge("1") == 0
    # A worker that loads the partition later (after a restart, or a new owner after a
    # rebalance) reads the history from the meta.
    part.watermark = START + 5 * DAY
    store = MemoryStore()
    store.write(1, part.take_writes())
    loaded = Partition(1, engine, store, Policy(clock="event"))
    assert list(versions.undercounted(loaded)) == ["monthly", "weekly"]
    # A partition that moved to another version since knows nothing of its history.
    part.use(versions.engines[A.version_hash])
    assert gauge("1") == 0
