"""Whether a Kafka broker answers a metadata request, asked without logging noise."""

from __future__ import annotations

import asyncio
import socket
import time

from aiokafka.conn import create_conn
from aiokafka.errors import KafkaError
from aiokafka.protocol.metadata import MetadataRequest

from stream.errors import Unreachable

DEFAULT_PORT = 9092  # aiokafka's, for an address without one
CHECK_BROKER = "check that it runs and that --broker or SEGSTREAM_BROKER names it"


def answers_metadata(bootstrap: str, timeout: float = 5.0) -> bool:
    """True when `host:port` accepts a connection and returns metadata naming a broker.

    Blocking; call it outside a running event loop.
    """
    host, port = _address(bootstrap)
    return _problem(host, port, timeout) is None


def require_broker(bootstrap: str, timeout: float) -> None:
    """Raise `Unreachable` unless a broker of `bootstrap` (``host:port[,host:port...]``)
    answers a metadata request, within `timeout` seconds for them all.

    Blocking; call it outside a running event loop.
    """
    deadline = time.monotonic() + timeout
    problems = []
    for address in bootstrap.split(","):
        host, port = _address(address)
        problem = _problem(host, port, deadline - time.monotonic())
        if problem is None:
            return
        problems.append(f"{host}:{port} ({problem})")
    raise Unreachable(f"cannot reach the Kafka broker at {', '.join(problems)}; {CHECK_BROKER}")


def _address(text: str) -> tuple[str, int]:
    host, colon, port = text.strip().rpartition(":")
    if not colon:
        return port, DEFAULT_PORT
    return host, int(port)


def _problem(host: str, port: int, timeout: float) -> str | None:
    """Why `host:port` does not answer a metadata request within `timeout`, or None."""
    timeout = max(timeout, 0.1)
    # A refused TCP connection is the common case (no broker, or the JVM still booting);
    # checking it first keeps aiokafka from logging a connection error per attempt.
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except TimeoutError:
        return f"no answer within {timeout:.0f} s"
    except socket.gaierror:
        return "unknown host"
    except OSError as error:
        return (error.strerror or str(error)).lower()
    return asyncio.run(_metadata(host, port, timeout))


async def _metadata(host: str, port: int, timeout: float) -> str | None:
    try:
        async with asyncio.timeout(timeout):
            conn = await create_conn(host, port, request_timeout_ms=int(timeout * 1000))
            try:
                response = await conn.send(MetadataRequest([]))
            finally:
                conn.close()
    except TimeoutError:
        return f"no answer to a metadata request within {timeout:.0f} s"
    except (OSError, KafkaError) as error:
        return f"{type(error).__name__}: {error}"
    return None if response.brokers else "its metadata names no broker"
