"""Redis stops for ten seconds mid-run: the API answers 503 meanwhile, then all ends equal."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import redis

from stream.testing.membership import rebuild
from stream.testing.waiting import wait_for
from tests.integration.serving.conftest import EXAMPLE_RULES, Published
from tests.support.serving import (
    RedisServer,
    api,
    assert_serves,
    end_position,
    materializer,
    wait_served,
)

OUTAGE_S = 10.0


def _applied(url: str, namespace: str, partitions: int) -> int:
    with redis.Redis.from_url(url) as client:
        keys = [f"{{{namespace}:p{p}}}:x" for p in range(partitions)]
        return sum(int(client.hget(k, "applied") or 0) for k in keys)


def test_redis_outage_answers_503_then_recovers_equal(
    kafka_bootstrap: str, published: Published, namespace: str, tmp_path: Path
) -> None:
    server = RedisServer(tmp_path / "redis").start()
    total = len(published.replayed)
    mat = materializer(
        tmp_path, kafka_bootstrap, published.topic, server.url, namespace, "--batch-size", "1"
    )
    front = api(tmp_path, server.url, namespace, EXAMPLE_RULES)
    mat.start()
    front.process.start()
    try:
        front.wait_ready()
        wait_for(
            lambda: _applied(server.url, namespace, published.partitions) >= total // 5,
            120,
            interval=0.01,
            what="a fifth of the stream applied",
        )
        # Paused, the materialiser cannot finish the stream before Redis is gone.
        assert mat.proc is not None
        mat.proc.send_signal(signal.SIGSTOP)
        assert _applied(server.url, namespace, published.partitions) < total
        server.stop()
        mat.proc.send_signal(signal.SIGCONT)
        assert _answers_503_for(front.base, OUTAGE_S) > 10
        assert mat.alive()
        server.start()
        wait_for(
            lambda: httpx.get(front.base + "/readyz").status_code == 200, 30, what="/readyz 200"
        )
        with front.client() as client:
            wait_served(client, end_position(kafka_bootstrap, published.topic))
            assert_serves(client, rebuild(published.replayed), published.segments)
        assert _applied(server.url, namespace, published.partitions) == total
    finally:
        mat.stop()
        front.process.stop()
        if server.proc is not None and server.proc.poll() is None:
            server.stop()
    log = mat.log_text()
    assert "Traceback" not in log
    assert log.count("is unreachable") == 1, log[-3000:]
    assert log.count("answers again") == 1, log[-3000:]


def _answers_503_for(base: str, seconds: float) -> int:
    """Ask the API for the outage's whole length; every /v1 and /readyz answer must be 503."""
    answered = 0
    until = time.monotonic() + seconds
    with httpx.Client(base_url=base, timeout=10) as client:
        while time.monotonic() < until:
            for path in ("/v1/contacts/c-1", "/v1/segments", "/readyz"):
                answer = client.get(path)
                assert answer.status_code == 503, (path, answer.text)
                assert answer.json()["error"] == "redis_unavailable"
                answered += 1
            assert client.get("/healthz").status_code == 200
    return answered
