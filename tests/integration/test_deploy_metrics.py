"""Every PromQL expression of deploy/grafana's dashboard and deploy/prometheus's alerts reads
only metrics the running processes export: a worker's /metrics and an API's (which carries
the materialiser's figures, read from Redis), scraped while they run."""

from __future__ import annotations

import contextlib
from pathlib import Path

import orjson

from stream.testing.generate import generate
from stream.testing.waiting import wait_for
from tests.e2e.harness import Names, produce
from tests.support import EXAMPLE_RULES
from tests.support.promql import base_name, families
from tests.support.serving import api, end_position, materializer, wait_served
from tests.support.web import scrape, web_worker
from tests.unit.test_alert_rules import alerts
from tests.unit.test_dashboard import expressions

PARTITIONS = 2
# Series Prometheus makes itself for every target, not exported by a process.
PROMETHEUS_MADE = {"up"}


def _exported(port: int, wanted: set[str]) -> set[str]:
    """The metric families served on `port` once every name of `wanted` is among them, or
    when 90 s have passed (the caller's assertion then names the missing ones)."""
    last: set[str] = set()

    def names() -> bool:
        nonlocal last
        last = {base_name(n) for n in scrape(port) or ()}
        return wanted <= last

    with contextlib.suppress(TimeoutError):
        wait_for(names, timeout=90, interval=0.5, what=f"{sorted(wanted)} on port {port}")
    return last


def test_dashboard_and_alerts_read_only_exported_metrics(
    kafka_bootstrap: str, redis_url: str, unique_name: str, tmp_path: Path
) -> None:
    read = set().union(
        *(families(expr) for expr in expressions()),
        *(families(str(rule["expr"])) for rule in alerts()),
    )
    worker_read = {n for n in read if not n.startswith(("segstream_serving_", "segstream_api_"))}
    names = Names(unique_name)
    worker, web_port = web_worker(kafka_bootstrap, names, tmp_path, partitions=PARTITIONS)
    # A malformed line, so that a dead letter (and its reason label) exists.
    lines = [orjson.dumps(e) for e in generate(200, 2000, seed=2)]
    produce(kafka_bootstrap, names.events, [*lines, b"{not json"], PARTITIONS)
    mat = materializer(tmp_path, kafka_bootstrap, names.changes, redis_url, unique_name)
    server = api(tmp_path, redis_url, unique_name, EXAMPLE_RULES)
    worker.start()
    try:
        worker.wait_ready()
        # Wait until every labelled series the panels read has appeared (a counter with
        # labels has none before its first event), but for Prometheus' own.
        from_worker = _exported(web_port, worker_read - PROMETHEUS_MADE)
        mat.start()
        server.process.start()
        server.wait_ready()
        with server.client() as client:
            wait_served(client, end_position(kafka_bootstrap, names.changes))
        from_api = _exported(server.port, read - from_worker - PROMETHEUS_MADE)
    finally:
        for process in (server.process, mat):
            if process.alive():
                process.stop()
        worker.stop()
    worker.assert_healthy()
    mat.assert_healthy()
    server.process.assert_healthy()
    missing = read - PROMETHEUS_MADE - from_worker - from_api
    assert not missing, f"queries read metrics no process exports: {sorted(missing)}"
    # The API's metrics are the serving layer's alone, the worker's the worker's alone.
    assert not {n for n in from_api if n.startswith("segstream_")} & from_worker
