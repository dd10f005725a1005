"""Fixtures every test may use: service addresses, and failing a test that logs an error."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator

import pytest

from stream.settings import bootstrap_servers

# A run started in the background by a non-interactive shell (`./scripts/test &`) inherits
# SIGINT ignored, and an ignored signal stays ignored across exec: every command a test
# starts would then shrug off the Ctrl-C the test sends it. A handler here is reset to the
# default in each child instead.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


class _ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def fail_on_error_log(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test if anything logged at ERROR or above while it ran.

    A test that provokes an error on purpose marks itself `allow_error_log` and asserts on
    the record itself (with caplog).
    """
    handler = _ErrorRecords()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
    if handler.records and request.node.get_closest_marker("allow_error_log") is None:
        logged = "\n".join(
            f"  {r.levelname} {r.name}: {r.getMessage()}" for r in handler.records[:10]
        )
        pytest.fail(f"the test logged {len(handler.records)} error(s):\n{logged}", pytrace=False)


def _service_env(name: str, what: str) -> str:
    value = os.environ.get(name)
    if value:
        return value
    message = f"{name} is not set, so {what} is unknown; run the tests with ./scripts/test"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (integration tests must not be skipped in CI)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """host:port of the test Kafka broker, from SEGSTREAM_BROKER."""
    return bootstrap_servers(_service_env("SEGSTREAM_BROKER", "the Kafka broker"))


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the test Redis, from SEGSTREAM_REDIS_URL."""
    return _service_env("SEGSTREAM_REDIS_URL", "the Redis server")
