"""The worker's /metrics against its status file, and /readyz through a full recovery."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson

from stream.ops.status import handled_in
from stream.testing.generate import generate
from stream.testing.waiting import wait_for
from tests.e2e.harness import Names, produce
from tests.support.web import Labels, get, get_json, scrape, web_worker

PARTITIONS = 2
BAD_LINES = 5


def _value(samples: dict[str, dict[Labels, float]], name: str, **labels: str) -> float | None:
    return samples.get(name, {}).get(tuple(sorted(labels.items())))


def _counts_match(samples: dict[str, dict[Labels, float]], status: dict[str, Any]) -> bool:
    """Whether every partition's counts on /metrics are the status file's."""
    parts = status["partitions"]
    return len(parts) == PARTITIONS and all(
        _value(samples, "segstream_events_total", partition=n, outcome=outcome) == count
        for n, part in parts.items()
        for outcome, count in part["counts"].items()
    )


def _lag_settled(samples: dict[str, dict[Labels, float]], topics: list[str]) -> bool:
    """Every owned partition of both input topics has a lag sample: 0 messages, status OK."""
    return all(
        _value(samples, "segstream_consumer_lag_messages", topic=t, partition=str(p)) == 0
        and _value(samples, "segstream_consumer_lag_status", topic=t, partition=str(p), status="OK")
        == 1
        for t in topics
        for p in range(PARTITIONS)
    )


def test_metrics_equal_the_status_file_and_readyz_follows_a_full_recovery(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    names = Names(unique_name)
    lines = [orjson.dumps(e) for e in generate(5000, 20_000, seed=11, days=20.0)]
    lines += [b"{not json %d" % i for i in range(BAD_LINES)]
    worker, port = web_worker(kafka_bootstrap, names, tmp_path, partitions=PARTITIONS)
    base = f"http://127.0.0.1:{port}"
    topics = [names.events, f"{names.app_id}-{names.events}-repartition"]
    produce(kafka_bootstrap, names.events, lines, PARTITIONS)
    worker.start()
    try:
        worker.wait_ready()
        worker.wait_until(lambda s: handled_in(s) == len(lines), 120, "every event handled")

        def settled() -> tuple[dict[str, dict[Labels, float]], dict[str, Any]] | None:
            samples, status = scrape(port), worker.status()
            if samples is None or status is None or not _counts_match(samples, status):
                return None
            return (samples, status) if _lag_settled(samples, topics) else None

        samples, status = wait_for(settled, 60, what="/metrics to match the status file")
        assert get(f"{base}/healthz") == (200, b'{"status":"ok"}')
        ready = get_json(f"{base}/readyz")
        assert ready is not None and ready[0] == 200
        assert ready[1]["partitions"] == list(range(PARTITIONS))
    finally:
        worker.stop()
    worker.assert_healthy()

    dead = samples["segstream_dead_letters_total"]
    assert sum(dead.values()) == BAD_LINES == _value(samples, "segstream_dead_letters_total",
                                                     reason="not_json")  # fmt: skip
    changes = sum(samples["segstream_changes_total"].values())
    assert changes == status["metrics"]["changes_out"] > 0
    assert sum(samples["segstream_event_to_change_seconds_count"].values()) > 0
    assert _value(samples, "segstream_ready") == 1
    assert (_value(samples, "segstream_rebalances_total") or 0) >= 1
    counts = {n: p["counts"] for n, p in status["partitions"].items()}

    # A full recovery: an empty state directory, the changelog still on the broker.
    shutil.rmtree(tmp_path / "w-state")
    worker.start()
    seen: list[tuple[int, str]] = []
    faust_root_during_recovery: list[int] = []
    remaining: list[float] = []

    def ready_now() -> dict[str, Any] | None:
        found = get_json(f"{base}/readyz")
        if found is None:
            return None
        code, body = found
        seen.append((code, body["reason"]))
        if body["reason"] == "recovering":
            root = get(f"{base}/")
            if root is not None:
                faust_root_during_recovery.append(root[0])
            metrics = scrape(port) or {}
            left = _value(metrics, "segstream_recovery_records_remaining", kind="active")
            if left is not None:
                remaining.append(left)
        return body if code == 200 else None

    try:
        body = wait_for(ready_now, 120, interval=0.02, what="/readyz to turn 200")
        worker.wait_until(
            lambda s: s is not None and len(s["partitions"]) == PARTITIONS, 30, "the status"
        )
        status_after = worker.status()
    finally:
        worker.stop()
    worker.assert_healthy()
    assert seen[0][0] == 503, seen[:5]
    assert (503, "recovering") in seen, sorted(set(seen))
    assert all(code == 503 for code, _ in seen[:-1])
    assert body["ready"] is True and body["partitions"] == list(range(PARTITIONS))
    assert 200 in faust_root_during_recovery  # Faust's own / said OK meanwhile
    assert max(remaining) > 0
    assert status_after is not None
    assert {n: p["counts"] for n, p in status_after["partitions"].items()} == counts
