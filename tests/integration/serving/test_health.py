"""Health from Redis equals the figures brute-forced from replay's output; the catalog's live
sizes equal the API's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from stream.core.health.history import HOUR_US, RESOLUTIONS
from stream.core.health.lift import lifts
from stream.core.health.lint import Thresholds
from stream.core.language.loader import load_file
from stream.serving.health import CHURN_HOURS, health_answer
from stream.serving.history import history_answer
from stream.serving.lift import lift_answer
from stream.testing.health import brute_force, history_brute_force
from stream.testing.lift import lift_brute_force
from stream.testing.membership import rebuild
from tests.integration.serving.conftest import EXAMPLE_RULES, Published
from tests.support.serving import CLI, ROOT, api, end_position, materializer, wait_served

# Low thresholds so that the generated stream raises findings of several kinds.
LINT_ENV = {
    "SEGSTREAM_LINT_MIN_SIZE": "20",
    "SEGSTREAM_LINT_MIN_SHARE": "0.05",
    "SEGSTREAM_LINT_DUPLICATE_JACCARD": "0.5",
    "SEGSTREAM_LINT_MAX_SEGMENTS": "3",
}
THRESHOLDS = Thresholds(min_size=20, min_share=0.05, duplicate_jaccard=0.5, max_segments=3)


def _expected(published: Published) -> dict[str, Any]:
    membership = rebuild(published.replayed)
    memberships = {
        contact: {s: held for s, (_, held) in view.segments.items()}
        for contact, view in membership.contacts.items()
    }
    rules = load_file(EXAMPLE_RULES)
    figures = brute_force(memberships, published.segments)
    history = history_brute_force(published.replayed, published.segments, HOUR_US, CHURN_HOURS)
    counters = lift_brute_force(published.replayed, rules)
    lift = [lift_answer(found) for found in lifts(rules, [counters])]
    return _comparable(health_answer({}, figures, rules, THRESHOLDS, history, lift))


def _expected_history(published: Published, resolution: str, count: int) -> dict[str, Any]:
    _, width, _ = RESOLUTIONS[resolution]
    history = history_brute_force(published.replayed, published.segments, width, count)
    rules = load_file(EXAMPLE_RULES)
    assert rules.lifecycle is not None
    return history_answer(history, resolution, list(rules.lifecycle.stages))


def _comparable(answer: dict[str, Any]) -> dict[str, Any]:
    # Which crowded contacts are named depends on the order Redis walks them in.
    findings = [
        {**f, "detail": f["detail"].split(" (e.g.")[0]} if f["kind"] == "crowded" else f
        for f in answer["findings"]
    ]
    return {k: v for k, v in answer.items() if k != "position"} | {"findings": findings}


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CLI, *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("redis", ["single", "cluster"])
def test_health_equals_brute_force_from_replay(
    kafka_bootstrap: str,
    published: Published,
    redis_url: str,
    redis_cluster_url: str,
    namespace: str,
    tmp_path: Path,
    redis: str,
) -> None:
    url = redis_url if redis == "single" else redis_cluster_url
    expected = _expected(published)
    kinds = {f["kind"] for f in expected["findings"]}
    assert {"too_small", "near_duplicate", "crowded"} <= kinds, kinds
    assert any(p["both"] for p in expected["overlap"])
    # Both kinds of goal, members who converted, and a held-out group to compare with.
    lift = {found["segment"]: found for found in expected["lift"]}
    assert lift["abm_lookalikes"]["held_out"]["entered"] and lift["guide_downloaders"]["already"]
    assert all(found["treated"]["converted"] for found in lift.values())
    position = end_position(kafka_bootstrap, published.topic)
    mat = materializer(
        tmp_path, kafka_bootstrap, published.topic, url, namespace, "--rules", str(EXAMPLE_RULES)
    )
    server = api(tmp_path, url, namespace, EXAMPLE_RULES, token="s3cret")
    server.process.env.update(LINT_ENV)
    mat.start()
    server.process.start()
    try:
        server.wait_ready()
        with server.client() as client:
            segments = wait_served(client, position)
            answer = client.get("/v1/health", params={"min_position": position}).json()
            assert client.get("/v1/health", headers={"Authorization": ""}).status_code == 401
            served = {
                (resolution, count): client.get(
                    "/v1/history", params={"resolution": resolution, "buckets": count}
                ).json()
                for resolution, count in [("hour", 48), ("minute", 60), ("hour", 840)]
            }
        assert _comparable(answer) == expected
        assert (
            len(answer["overlap"]) == len(published.segments) * (len(published.segments) - 1) // 2
        )
        for (resolution, count), history in served.items():
            history.pop("position")
            assert history == _expected_history(published, resolution, count), resolution
        whole = served[("hour", 840)]
        # The generated stream has no exit within an hour of its entry: flaps are counted
        # against the brute force above and checked non-zero in tests/unit/test_health.py.
        assert sum(s["entered_ever"] for s in whole["segments"].values()) > 0
        assert whole["moves"] and whole["stages"]
        sizes = {s["id"]: s["size"] for s in segments["segments"]}
        assert {s["id"]: s["size"] for s in answer["segments"]} == sizes

        env = {**LINT_ENV, "SEGSTREAM_REDIS_URL": url, "SEGSTREAM_APP_ID": namespace}
        cli = _cli("health", "--json", "--rules", str(EXAMPLE_RULES), env=env)
        assert cli.returncode == 0, cli.stderr
        assert _comparable(orjson.loads(cli.stdout)) == expected
        text = _cli("health", "--rules", str(EXAMPLE_RULES), env=env)
        assert text.returncode == 0 and "findings (" in text.stdout, text.stderr

        catalog = _cli("catalog", "--rules", str(EXAMPLE_RULES), env=env)
        assert catalog.returncode == 0, catalog.stderr
        for segment in segments["segments"]:
            line = f"| Live size | {segment['size']:,} ({segment['held_out']:,} held out) |"
            assert line in catalog.stdout.split(f"## {segment['id']}\n")[1].split("\n## ")[0]
    finally:
        mat.stop()
        server.process.stop()
    mat.assert_healthy()
    server.process.assert_healthy()
