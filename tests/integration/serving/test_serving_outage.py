"""Redis stops for ten seconds mid-run: the API answers 503 meanwhile, then all ends equal."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import httpx
import redis
from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from stream.app.admin import ensure_topics
from stream.testing.membership import rebuild
from stream.testing.waiting import wait_for
from tests.e2e.harness import read_topic
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

Records = list[ConsumerRecord[bytes, bytes]]


def _applied(url: str, namespace: str, partitions: int) -> int:
    with redis.Redis.from_url(url) as client:
        keys = [f"{{{namespace}:p{p}}}:x" for p in range(partitions)]
        return sum(int(client.hget(k, "applied") or 0) for k in keys)


def _halves(records: Records) -> tuple[Records, Records]:
    """Each partition's first half of the records, then the rest, each in topic order."""
    first: Records = []
    rest: Records = []
    for p in sorted({r.partition for r in records}):
        mine = [r for r in records if r.partition == p]
        first += mine[: len(mine) // 2]
        rest += mine[len(mine) // 2 :]
    return first, rest


def _send(bootstrap: str, topic: str, records: Records) -> None:
    """Copy `records` to the same partitions of `topic`, in order."""

    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for r in records:
                await producer.send(topic, r.value, key=r.key, partition=r.partition)
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(run())


def test_redis_outage_answers_503_then_recovers_equal(
    kafka_bootstrap: str, published: Published, namespace: str, tmp_path: Path
) -> None:
    # A topic of the test's own, so that the materialiser has changes left to apply while
    # Redis is down: half of the published changes before the outage, the rest during it.
    records = read_topic(
        kafka_bootstrap, published.topic, lambda rs: len(rs) >= published.records, timeout=60
    )
    before, during = _halves(records)
    topic = f"{published.topic}-outage-{uuid.uuid4().hex[:6]}"
    asyncio.run(ensure_topics(kafka_bootstrap, [topic], published.partitions))
    _send(kafka_bootstrap, topic, before)

    server = RedisServer(tmp_path / "redis").start()
    total = len(published.replayed)
    mat = materializer(tmp_path, kafka_bootstrap, topic, server.url, namespace)
    front = api(tmp_path, server.url, namespace, EXAMPLE_RULES)
    mat.start()
    front.process.start()
    try:
        front.wait_ready()
        with front.client() as client:
            wait_served(client, end_position(kafka_bootstrap, topic))
        applied_before = _applied(server.url, namespace, published.partitions)
        assert 0 < applied_before < total
        server.stop()
        _send(kafka_bootstrap, topic, during)
        assert _answers_503_for(front.base, OUTAGE_S) > 10
        assert mat.alive()
        server.start()
        wait_for(
            lambda: httpx.get(front.base + "/readyz").status_code == 200, 30, what="/readyz 200"
        )
        with front.client() as client:
            wait_served(client, end_position(kafka_bootstrap, topic))
            assert_serves(client, rebuild(published.replayed), published.segments)
        assert _applied(server.url, namespace, published.partitions) == total
    finally:  # every process stops, also when stopping one fails
        try:
            mat.stop()
        finally:
            try:
                front.process.stop()
            finally:
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
