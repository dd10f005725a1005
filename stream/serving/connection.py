"""Connecting to Redis or a Redis Cluster from one URL, and which failures mean "unreachable"."""

from __future__ import annotations

from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from redis import exceptions
from redis.asyncio import Redis, RedisCluster
from redis.commands.core import AsyncScript

RedisClient = Redis | RedisCluster

# Failures that say Redis cannot serve right now (down, restarting, loading its data, the
# cluster without a majority): retry later, or answer 503. Anything else is a real error.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    exceptions.ConnectionError,
    exceptions.TimeoutError,
    exceptions.ClusterError,
    exceptions.RedisClusterException,
    exceptions.TryAgainError,
    exceptions.ReadOnlyError,
    OSError,
)

_TIMEOUTS: dict[str, Any] = {
    "socket_connect_timeout": 2.0,
    "socket_timeout": 5.0,
    "health_check_interval": 15,
}


def redact(url: str) -> str:
    """The URL without its password, for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + host))


async def connect(url: str, **options: Any) -> RedisClient:
    """A client for `url`: a RedisCluster client when that server runs in cluster mode.

    Raises one of UNAVAILABLE while the server does not answer.
    """
    settings = {**_TIMEOUTS, **options}
    probe: Redis = Redis.from_url(url, **settings)
    try:
        info = await probe.info("cluster")
    finally:
        await probe.aclose()
    if not info.get("cluster_enabled"):
        return Redis.from_url(url, **settings)
    settings.pop("health_check_interval", None)
    cluster: RedisCluster = RedisCluster.from_url(url, **settings)
    await cluster.initialize()
    return cluster


def load_script(client: RedisClient, name: str) -> AsyncScript:
    """The packaged Lua script `stream/serving/lua/NAME.lua`, registered on `client`."""
    source = files("stream.serving").joinpath(f"lua/{name}.lua").read_text()
    return client.register_script(source)
