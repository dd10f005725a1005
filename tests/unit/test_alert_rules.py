"""deploy/prometheus/ passes promtool: the config and rules check, every alert's unit tests pass,
every alert has a runbook paragraph, and every metric an alert reads is a named one."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import yaml

from stream.ops.metrics import METRIC_NAMES
from stream.serving.metrics import GAPS
from tests.support import ROOT

DEPLOY = ROOT / "deploy" / "prometheus"
# Named by the serving layer's metrics (the API's /metrics), not the worker's.
SERVING_METRICS = {f"{GAPS}_total"}
_HISTOGRAM_PARTS = ("_bucket", "_count", "_sum")


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        message = "promtool not found; install it with: apt-get install -y prometheus"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


def _run(*args: str) -> str:
    done = subprocess.run([promtool(), *args], cwd=DEPLOY, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def alerts() -> list[dict[str, object]]:
    rules = yaml.safe_load((DEPLOY / "alerts.yml").read_text())
    return [rule for group in rules["groups"] for rule in group["rules"]]


def metric_names(expr: str) -> set[str]:
    """The segstream metric families an expression reads (a histogram's by its name)."""
    names = set(re.findall(r"\bsegstream_[a-z0-9_]+", expr))
    return {next((n.removesuffix(p) for p in _HISTOGRAM_PARTS if n.endswith(p)), n) for n in names}


def test_config_and_rules_check() -> None:
    assert "SUCCESS" in _run("check", "config", "prometheus.yml")
    assert "SUCCESS" in _run("check", "rules", "alerts.yml")


def test_every_alert_unit_test_passes_and_every_alert_is_tested() -> None:
    assert "SUCCESS" in _run("test", "rules", "tests.yml")
    tests = yaml.safe_load((DEPLOY / "tests.yml").read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test["alert_rule_test"]}
    assert tested == {rule["alert"] for rule in alerts()}


def test_every_alert_has_a_summary_and_a_runbook_paragraph() -> None:
    page = (ROOT / "docs" / "operations.md").read_text()
    for rule in alerts():
        annotations = rule["annotations"]
        assert isinstance(annotations, dict)
        assert annotations["summary"]
        anchor = str(rule["alert"]).lower()
        assert annotations["runbook"] == f"docs/operations.md#{anchor}"
        assert f"### {rule['alert']}\n" in page, f"no runbook paragraph for {rule['alert']}"


def test_every_metric_an_alert_reads_is_named_in_stream_ops_metrics() -> None:
    read = set().union(*(metric_names(str(rule["expr"])) for rule in alerts()))
    assert read - SERVING_METRICS <= set(METRIC_NAMES)
    assert read >= SERVING_METRICS
