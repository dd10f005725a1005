"""The status page in a real headless chromium, against the API on real Redis: every segment
with the API's size, plots with one point per bucket, one heatmap cell per pair, no console
error, and the login message instead of data without the token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stream.testing import chromium
from tests.integration.serving.conftest import EXAMPLE_RULES, Published
from tests.support.serving import CLI, ROOT, api, end_position, materializer, wait_served

ARTEFACTS = Path(os.environ.get("SEGSTREAM_TEST_ARTEFACTS", ROOT / "test-artefacts"))
LIFT_ROWS = """[...document.querySelectorAll('#lift tbody tr')].map(r =>
  [r.dataset.segment, r.querySelector('td.treated').textContent,
   r.querySelector('td.held-out').textContent, r.querySelectorAll('svg.interval').length])"""
ROWS = """[...document.querySelectorAll('#segments tbody tr')].map(r =>
  [r.dataset.segment, r.querySelector('td.size').textContent,
   Number(r.querySelector('polyline').dataset.points)])"""


def assert_lift_shown(page: chromium.Page, lift: list[dict[str, Any]]) -> None:
    """One lift row per segment with a goal, with the API's counts, and the interval drawn
    where there is a held-out group to compare with."""
    rows = page.evaluate(LIFT_ROWS)
    assert [r[0] for r in rows] == [found["segment"] for found in lift]
    assert lift, "the example rules name goals"
    for row, found in zip(rows, lift, strict=True):
        for text, group in ((row[1], found["treated"]), (row[2], found["held_out"])):
            if group["entered"]:
                assert f"{group['converted']:,} of {group['entered']:,}" in text
        assert row[3] == (found["difference"] is not None)


def assert_report_opens_offline(
    tmp_path: Path, redis_url: str, namespace: str, sizes: dict[str, int], lift: Any
) -> None:
    """`segstream report --html` writes one file that shows the same page from a file:// URL,
    where nothing the page would fetch from the API exists."""
    target = tmp_path / "status.html"
    done = subprocess.run(
        [sys.executable, "-c", CLI, "report", "--html", str(target), "--redis", redis_url,
         "--app-id", namespace, "--rules", str(EXAMPLE_RULES)],
        cwd=ROOT, env={**os.environ, "SEGSTREAM_API_TOKEN": "s3cret"}, capture_output=True,
        text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"wrote {target}" in done.stderr and "17 segments" in done.stderr
    text = target.read_text()
    assert '="/page/' not in text and "window.SEGSTREAM_SNAPSHOT" in text  # nothing linked
    with chromium.browser() as page:
        page.open(target.as_uri(), "document.body.dataset.ready === 'true'")
        rows = page.evaluate(ROWS)
        assert {r[0]: int(r[1].replace(",", "")) for r in rows} == sizes
        assert {r[2] for r in rows} == {48}
        assert_lift_shown(page, lift)
        assert "snapshot of" in page.evaluate("document.getElementById('position').innerText")
        assert "Redis up: yes" in page.evaluate("document.getElementById('strip').innerText")
        page.screenshot(ARTEFACTS / "status-report.png")
        assert page.errors == []


@pytest.fixture(autouse=True)
def _chromium() -> None:
    if chromium.executable() is None:
        message = "chromium is not installed (apt-get install chromium; .ci/run does)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def test_status_page_shows_what_the_api_serves(
    kafka_bootstrap: str, published: Published, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    position = end_position(kafka_bootstrap, published.topic)
    mat = materializer(
        tmp_path, kafka_bootstrap, published.topic, redis_url, namespace,
        "--rules", str(EXAMPLE_RULES),
    )  # fmt: skip
    server = api(tmp_path, redis_url, namespace, EXAMPLE_RULES, token="s3cret")
    mat.start()
    server.process.start()
    try:
        server.wait_ready()
        with server.client() as client:
            sizes = {s["id"]: s["size"] for s in wait_served(client, position)["segments"]}
            lift = client.get("/v1/health", params={"min_position": position}).json()["lift"]
        with chromium.browser() as page:
            page.open(server.base + "/", "document.body.dataset.ready")
            assert page.evaluate("document.body.dataset.ready") == "login"
            assert page.evaluate("document.getElementById('login').hidden") is False
            assert page.evaluate("document.getElementById('data').hidden") is True
            assert "needs the API token" in page.evaluate("document.body.innerText")
            assert page.evaluate("document.querySelectorAll('#segments tbody tr').length") == 0

            took = page.open(
                server.base + "/?from=test#token=s3cret", "document.body.dataset.ready === 'true'"
            )
            rows = page.evaluate(ROWS)
            assert [r[0] for r in rows] == published.segments
            assert {r[0]: int(r[1].replace(",", "")) for r in rows} == sizes
            assert {r[2] for r in rows} == {48}  # one point per hour bucket asked for
            charts = page.evaluate(
                "[...document.querySelectorAll('#sizes polyline')].map(p => +p.dataset.points)"
            )
            assert charts == [48] * len(published.segments)
            n = len(published.segments)
            cells = page.evaluate("document.querySelectorAll('#overlap rect.pair').length")
            assert cells == n * (n - 1) // 2
            stages = page.evaluate("document.querySelectorAll('#funnel-chart rect.bar').length")
            assert stages == 7  # the example rules' stages
            assert "Redis up: yes" in page.evaluate("document.getElementById('strip').innerText")
            assert_lift_shown(page, lift)
            ARTEFACTS.mkdir(parents=True, exist_ok=True)
            shot = ARTEFACTS / "status-page.png"
            page.screenshot(shot)
            assert page.errors == []
        print(f"\nstatus page screenshot: {shot} (loaded in {took:.2f} s)")
        assert_report_opens_offline(tmp_path, redis_url, namespace, sizes, lift)
    finally:
        mat.stop()
        server.process.stop()
    mat.assert_healthy()
    server.process.assert_healthy()


def test_bench_page_prints_the_load_time(tmp_path: Path) -> None:
    """`segstream bench page`, small: it loads the store, times the answers and the page."""
    done = subprocess.run(
        [sys.executable, "-c", CLI, "bench", "page", "--memberships", "3000", "--loads", "2"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "loaded 3,000 memberships of " in done.stdout
    assert "GET /v1/health: median " in done.stdout
    assert "status page load (navigation to everything drawn, 100 segments) over 2 loads" in (
        done.stdout
    )
