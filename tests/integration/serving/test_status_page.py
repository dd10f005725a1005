"""The status page in a real headless chromium, against the API on real Redis: every segment
with the API's size, plots with one point per bucket, one heatmap cell per pair, no console
error, and the login message instead of data without the token."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.integration.serving.conftest import EXAMPLE_RULES, Published
from tests.support import chromium
from tests.support.serving import ROOT, api, end_position, materializer, wait_served

ARTEFACTS = Path(os.environ.get("SEGSTREAM_TEST_ARTEFACTS", ROOT / "test-artefacts"))
ROWS = """[...document.querySelectorAll('#segments tbody tr')].map(r =>
  [r.dataset.segment, r.querySelector('td.size').textContent,
   Number(r.querySelector('polyline').dataset.points)])"""


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
    mat = materializer(tmp_path, kafka_bootstrap, published.topic, redis_url, namespace)
    server = api(tmp_path, redis_url, namespace, EXAMPLE_RULES, token="s3cret")
    mat.start()
    server.process.start()
    try:
        server.wait_ready()
        with server.client() as client:
            sizes = {s["id"]: s["size"] for s in wait_served(client, position)["segments"]}
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
            ARTEFACTS.mkdir(parents=True, exist_ok=True)
            shot = ARTEFACTS / "status-page.png"
            page.screenshot(shot)
            assert page.errors == []
        print(f"\nstatus page screenshot: {shot} (loaded in {took:.2f} s)")
    finally:
        mat.stop()
        server.process.stop()
    mat.assert_healthy()
    server.process.assert_healthy()
