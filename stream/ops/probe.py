"""Whether a Kafka broker answers a metadata request, asked without logging noise."""

from __future__ import annotations

import asyncio
import socket

from aiokafka.conn import create_conn
from aiokafka.errors import KafkaError
from aiokafka.protocol.metadata import MetadataRequest


def answers_metadata(bootstrap: str, timeout: float = 5.0) -> bool:
    """True when `host:port` accepts a connection and returns metadata naming a broker.

    Blocking; call it outside a running event loop.
    """
    host, _, port_text = bootstrap.rpartition(":")
    port = int(port_text)
    timeout = max(timeout, 0.1)
    # A refused TCP connection is the common case while the JVM boots; checking it first
    # keeps aiokafka from logging a connection error per attempt.
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError:
        return False
    return asyncio.run(_metadata(host, port, timeout))


async def _metadata(host: str, port: int, timeout: float) -> bool:
    try:
        async with asyncio.timeout(timeout):
            conn = await create_conn(host, port, request_timeout_ms=int(timeout * 1000))
            try:
                response = await conn.send(MetadataRequest([]))
            finally:
                conn.close()
    except (OSError, KafkaError, TimeoutError):
        return False
    return len(response.brokers) > 0
