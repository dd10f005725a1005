"""Worker -> materialiser -> API answers equal the membership rebuilt from replay's output."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from stream.testing.membership import rebuild
from stream.testing.waiting import wait_for
from tests.integration.serving.conftest import EXAMPLE_RULES, Published
from tests.support.serving import api, assert_serves, end_position, materializer, wait_served


def _counters(client: redis.Redis | redis.RedisCluster, namespace: str, partitions: int) -> dict:
    total: dict[str, int] = {}
    for p in range(partitions):
        for name, value in client.hgetall(f"{{{namespace}:p{p}}}:x").items():
            total[name.decode()] = total.get(name.decode(), 0) + int(value)
    return total


def _client(url: str) -> redis.Redis | redis.RedisCluster:
    plain = redis.Redis.from_url(url)
    if plain.info("cluster").get("cluster_enabled"):
        plain.close()
        return redis.RedisCluster.from_url(url)
    return plain


def _serve_and_check(
    kafka_bootstrap: str,
    published: Published,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
    kills: int = 0,
) -> None:
    expected = rebuild(published.replayed)
    position = end_position(kafka_bootstrap, published.topic)
    batch = ["--batch-size", "1"] if kills else []
    mat = materializer(tmp_path, kafka_bootstrap, published.topic, redis_url, namespace, *batch)
    server = api(tmp_path, redis_url, namespace, EXAMPLE_RULES, token="s3cret")
    store = _client(redis_url)
    total = len(published.replayed)
    mat.start()
    server.process.start()
    try:
        for kill in range(kills):
            # kill -9 while a quarter, a half, three quarters of the stream are applied
            threshold = total * (kill + 1) // (kills + 1)

            def progressed(at_least: int = threshold) -> bool:
                assert mat.alive(), mat.log_text()[-3000:]
                return _counters(store, namespace, published.partitions).get("applied", 0) >= (
                    at_least
                )

            wait_for(progressed, 120, interval=0.01, what=f"{threshold} changes applied")
            mat.kill()
            applied = _counters(store, namespace, published.partitions).get("applied", 0)
            assert applied < total, "the stream was applied before the kill; slow it down"
            mat.start()
        server.wait_ready()
        with server.client() as client:
            wait_served(client, position)
            assert_serves(client, expected, published.segments)
        counters = _counters(store, namespace, published.partitions)
        # Every message on the topic was applied exactly once: none twice, none skipped.
        assert counters.get("applied", 0) == total
        assert counters.get("redelivered", 0) == 0
        assert counters.get("gaps", 0) == 0
    finally:
        mat.stop()
        server.process.stop()
        store.close()
    mat.assert_healthy()
    server.process.assert_healthy()
    if kills:
        assert len(mat.logs) == kills + 1


def test_single_redis_serves_what_replay_rebuilds(
    kafka_bootstrap: str, published: Published, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    _serve_and_check(kafka_bootstrap, published, redis_url, namespace, tmp_path)


def test_redis_cluster_serves_what_replay_rebuilds(
    kafka_bootstrap: str,
    published: Published,
    redis_cluster_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    client = redis.RedisCluster.from_url(redis_cluster_url)

    def nodes(name: str) -> set[str]:
        return {client.get_node_from_key(f"{{{name}:p{p}}}:o").name for p in range(3)}

    # A namespace whose partitions live on more than one node, so the API's reads cross nodes.
    while len(nodes(namespace)) < 2:
        namespace += "x"
    client.close()
    _serve_and_check(kafka_bootstrap, published, redis_cluster_url, namespace, tmp_path)


@pytest.mark.parametrize("kills", [3])
def test_kill_9_three_times_applies_nothing_twice(
    kafka_bootstrap: str,
    published: Published,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
    kills: int,
) -> None:
    _serve_and_check(kafka_bootstrap, published, redis_url, namespace, tmp_path, kills=kills)
