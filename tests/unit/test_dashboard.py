"""deploy/grafana/ is a valid provisioned dashboard: every panel has a title and a query on
the provisioned datasource, and every metric its queries read is one the code names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from stream.ops.metrics import METRIC_NAMES
from stream.serving.metrics import ServingMetrics
from stream.serving.store import PartitionStats
from tests.support import ROOT
from tests.support.promql import base_name, families

GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "segstream.json"


def dashboard() -> dict[str, Any]:
    found: dict[str, Any] = orjson.loads(DASHBOARD.read_bytes())
    return found


def panels() -> list[dict[str, Any]]:
    """The dashboard's panels with queries (rows only group them)."""
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def expressions() -> list[str]:
    """Every PromQL expression of the dashboard."""
    return [str(t["expr"]) for p in panels() for t in p["targets"]]


def serving_names() -> set[str]:
    """The names the API's /metrics gives its series (rendered from one partition's stats)."""
    stats = [PartitionStats(offset=1, sizes={"s": 1}, counters={"applied": 1}, open_gaps=0)]
    metrics = ServingMetrics()
    metrics.requests.labels("/v1/segments", "200").inc()
    metrics.seconds.labels("/v1/segments").observe(0.01)
    text = metrics.render(stats).decode()
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def _yaml(path: Path) -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load(path.read_text())
    return found


def test_the_dashboard_is_json_with_a_uid_and_titled_panels_with_queries() -> None:
    board = dashboard()
    assert board["uid"] and board["title"]
    assert panels(), "no panels"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in panels():
        assert panel.get("title"), panel
        assert panel["targets"], f"{panel['title']} has no query"
        for target in panel["targets"]:
            assert str(target.get("expr", "")).strip(), f"{panel['title']}: empty query"
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]


def test_panels_do_not_overlap_on_the_grid() -> None:
    taken: set[tuple[int, int]] = set()
    for panel in dashboard()["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {
            (grid["x"] + dx, grid["y"] + dy) for dx in range(grid["w"]) for dy in range(grid["h"])
        }
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells


def test_every_query_uses_the_provisioned_datasource() -> None:
    (source,) = _yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")["datasources"]
    assert source["type"] == "prometheus"
    wanted = {"type": "prometheus", "uid": source["uid"]}
    for panel in panels():
        assert panel["datasource"] == wanted, panel["title"]
        assert all(t["datasource"] == wanted for t in panel["targets"]), panel["title"]


def test_the_dashboards_provider_loads_the_dashboards_folder() -> None:
    (provider,) = _yaml(GRAFANA / "provisioning" / "dashboards" / "segstream.yml")["providers"]
    assert provider["type"] == "file"
    assert provider["folder"]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


ISSUE_PANELS = ["events in", "changes out", "lag in messages", "lag in seconds",
                "event-to-change latency", "deadline lateness", "dead letters", "restore",
                "segment sizes"]  # fmt: skip


@pytest.mark.parametrize("panel", ISSUE_PANELS)
def test_the_issue_s_panels_are_there(panel: str) -> None:
    titles = " | ".join(p["title"].lower() for p in panels())
    assert panel in titles, titles


def test_every_metric_a_panel_reads_is_named_by_the_worker_or_the_serving_layer() -> None:
    named = set(METRIC_NAMES) | serving_names()
    # Names as PromQL reads them: a histogram by its family, a counter with its _total.
    read = set().union(*(families(expr) for expr in expressions()))
    known = {base_name(n) for n in named}
    assert read <= known, sorted(read - known)
