"""Connecting to Redis or a Redis Cluster from one URL, and which failures mean "unreachable"."""

from __future__ import annotations

import logging
import time
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from redis import exceptions
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.commands.core import AsyncScript

log = logging.getLogger(__name__)

RedisClient = Redis | RedisCluster

# Failures that say Redis cannot serve right now (down, restarting, loading its data, the
# cluster without a majority): retry later, or answer 503. Anything else is a real error.
UNAVAILABLE: tuple[type[Exception], ...] = (
    exceptions.ConnectionError,
    exceptions.TimeoutError,
    exceptions.ClusterError,
    exceptions.RedisClusterException,
    exceptions.TryAgainError,
    exceptions.ReadOnlyError,
    OSError,
)


def _options() -> dict[str, Any]:
    # One quick retry covers a connection that went stale; redis-py's default (10 retries, up
    # to 1 s apart) would hold an API request for seconds before its 503, and the materialiser
    # has its own backoff.
    return {
        "socket_connect_timeout": 2.0,
        "socket_timeout": 5.0,
        "health_check_interval": 15,
        "retry": Retry(ExponentialBackoff(cap=0.05, base=0.01), 1),
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


async def connect(url: str, ca_file: Path | None = None, **options: Any) -> RedisClient:
    """A client for `url`: a RedisCluster client when that server runs in cluster mode.

    A ``rediss://`` URL connects over TLS, trusting `ca_file` (PEM) when given, else the
    system's CAs; its user and password (Redis ACL) come in the URL. Raises one of
    UNAVAILABLE while the server does not answer.
    """
    settings = {**_options(), **options}
    if ca_file is not None and url.startswith("rediss://"):
        settings["ssl_ca_certs"] = str(ca_file)
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


class RedisState:
    """Says in one log line when Redis stops answering and one when it answers again."""

    def __init__(self, url: str) -> None:
        self._url = redact(url)
        self._down_since: float | None = None

    def down(self, error: BaseException) -> None:
        """Note a failure; logged only if Redis answered before."""
        if self._down_since is None:
            self._down_since = time.monotonic()
            kind = type(error).__name__
            log.warning("Redis at %s is unreachable (%s: %s); retrying", self._url, kind, error)

    @property
    def is_down(self) -> bool:
        return self._down_since is not None

    def up(self) -> None:
        """Note a success; logged only if Redis was unreachable before."""
        if self._down_since is not None:
            took = time.monotonic() - self._down_since
            self._down_since = None
            log.warning("Redis at %s answers again after %.1f s; resuming", self._url, took)
