"""A real Prometheus scrapes a running worker with deploy/prometheus/'s configuration, and
every metric the alert rules read is one the worker exports."""

from __future__ import annotations

import shutil
import subprocess
import urllib.parse
from pathlib import Path
from typing import Any

import orjson
import yaml

from stream.testing.generate import generate
from stream.testing.processes import stop_process
from stream.testing.waiting import wait_for
from tests.e2e.harness import Names, produce
from tests.support.web import free_port, get_json, scrape, web_worker
from tests.unit.test_alert_rules import DEPLOY, SERVING_METRICS, alerts, metric_names

PARTITIONS = 2


def _prometheus_config(worker_port: int, path: Path) -> Path:
    """deploy/prometheus/prometheus.yml aimed at the test's worker, scraping every second."""
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(DEPLOY / name) for name in config["rule_files"]]
    # The worker's job alone: no API runs here.
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "segstream-worker")
    config["scrape_configs"] = [job]
    job["static_configs"] = [{"targets": [f"127.0.0.1:{worker_port}"]}]
    path.write_text(yaml.safe_dump(config))
    return path


def _query(port: int, expr: str) -> list[dict[str, Any]]:
    found = get_json(f"http://127.0.0.1:{port}/api/v1/query?query={urllib.parse.quote(expr)}")
    if found is None or found[0] != 200:
        return []
    result: list[dict[str, Any]] = found[1]["data"]["result"]
    return result


def test_prometheus_scrapes_the_worker_and_its_query_api_returns_the_lag(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    binary = shutil.which("prometheus")
    assert binary, "prometheus not found; install it with: apt-get install -y prometheus"
    names = Names(unique_name)
    prom_port = free_port()
    worker, web_port = web_worker(kafka_bootstrap, names, tmp_path, partitions=PARTITIONS)
    lines = [orjson.dumps(e) for e in generate(200, 2000, seed=2)]
    produce(kafka_bootstrap, names.events, [*lines, b"{not json"], PARTITIONS)
    config = _prometheus_config(web_port, tmp_path / "prometheus.yml")
    log = (tmp_path / "prometheus.log").open("wb")
    worker.start()
    prometheus = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{prom_port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        worker.wait_ready()
        lag = wait_for(
            lambda: (
                len(found := _query(prom_port, "segstream_consumer_lag_messages")) == 2 * PARTITIONS
                and found
            ),
            timeout=90,
            what="Prometheus to return the lag of every partition of both input topics",
        )
        up = _query(prom_port, 'up{job="segstream-worker"}')
        rules = get_json(f"http://127.0.0.1:{prom_port}/api/v1/rules")
        exported = scrape(web_port)
    finally:
        stop_process(prometheus, 30)
        log.close()
        worker.stop()
    worker.assert_healthy()
    assert {(s["metric"]["topic"], s["metric"]["partition"]) for s in lag} == {
        (topic, str(p))
        for topic in (names.events, f"{names.app_id}-{names.events}-repartition")
        for p in range(PARTITIONS)
    }
    assert [s["value"][1] for s in up] == ["1"]
    assert rules is not None and rules[0] == 200
    loaded = {r["name"] for g in rules[1]["data"]["groups"] for r in g["rules"]}
    assert loaded == {str(rule["alert"]) for rule in alerts()}

    # Every metric the alerts read (but the serving layer's) is one the worker exports.
    assert exported is not None
    families = {
        next((n.removesuffix(p) for p in ("_bucket", "_count", "_sum") if n.endswith(p)), n)
        for n in exported
    }
    read = set().union(*(metric_names(str(rule["expr"])) for rule in alerts()))
    missing = read - SERVING_METRICS - families
    assert not missing, f"alerts read metrics the worker does not export: {sorted(missing)}"
