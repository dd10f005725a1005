"""Whether a Kafka broker answers a metadata request, asked without logging noise."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time

from aiokafka.conn import create_conn
from aiokafka.errors import AuthenticationFailedError, KafkaError, SaslAuthenticationFailed
from aiokafka.protocol.metadata import MetadataRequest

from stream.errors import AccessDenied, Unreachable
from stream.ops.kafka_security import PLAINTEXT, KafkaSecurity

DEFAULT_PORT = 9092  # aiokafka's, for an address without one
CHECK_BROKER = "check that it runs and that --broker or SEGSTREAM_BROKER names it"
CHECK_CREDENTIALS = (
    "check SEGSTREAM_KAFKA_SASL_USERNAME, SEGSTREAM_KAFKA_SASL_PASSWORD and "
    "SEGSTREAM_KAFKA_SASL_MECHANISM"
)
CHECK_TLS = "check SEGSTREAM_KAFKA_SECURITY_PROTOCOL and SEGSTREAM_KAFKA_CA_FILE"
_DENIED = (SaslAuthenticationFailed, AuthenticationFailedError)


def answers_metadata(
    bootstrap: str, timeout: float = 5.0, security: KafkaSecurity = PLAINTEXT
) -> bool:
    """True when `host:port` accepts a connection and returns metadata naming a broker.

    Blocking; call it outside a running event loop.
    """
    host, port = _address(bootstrap)
    try:
        return _problem(host, port, timeout, security) is None
    except AccessDenied:
        return False


def require_broker(bootstrap: str, timeout: float, security: KafkaSecurity = PLAINTEXT) -> None:
    """Raise `Unreachable` unless a broker of `bootstrap` (``host:port[,host:port...]``)
    answers a metadata request, within `timeout` seconds for them all; `AccessDenied` when
    one refuses the credentials or the TLS handshake fails.

    Blocking; call it outside a running event loop.
    """
    deadline = time.monotonic() + timeout
    problems = []
    for address in bootstrap.split(","):
        host, port = _address(address)
        problem = _problem(host, port, deadline - time.monotonic(), security)
        if problem is None:
            return
        problems.append(f"{host}:{port} ({problem})")
    raise Unreachable(f"cannot reach the Kafka broker at {', '.join(problems)}; {CHECK_BROKER}")


def _address(text: str) -> tuple[str, int]:
    host, colon, port = text.strip().rpartition(":")
    if not colon:
        return port, DEFAULT_PORT
    return host, int(port)


def _problem(host: str, port: int, timeout: float, security: KafkaSecurity) -> str | None:
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
    return asyncio.run(_metadata(host, port, timeout, security))


async def _metadata(host: str, port: int, timeout: float, security: KafkaSecurity) -> str | None:
    options = security.client_options()
    try:
        async with asyncio.timeout(timeout):
            conn = await create_conn(host, port, request_timeout_ms=int(timeout * 1000), **options)
            try:
                response = await conn.send(MetadataRequest([]))
            finally:
                conn.close()
    except _DENIED as error:
        raise AccessDenied(
            f"the Kafka broker at {host}:{port} refused the {security.mechanism} credentials "
            f"of user {security.username!r} ({type(error).__name__}); {CHECK_CREDENTIALS}"
        ) from None
    except ssl.SSLError as error:
        raise AccessDenied(
            f"the TLS handshake with the Kafka broker at {host}:{port} failed "
            f"({error.reason or error}); {CHECK_TLS}"
        ) from None
    except TimeoutError:
        return f"no answer to a metadata request within {timeout:.0f} s"
    except (OSError, KafkaError) as error:
        return f"{type(error).__name__}: {error}"
    return None if response.brokers else "its metadata names no broker"
