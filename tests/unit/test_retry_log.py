"""The Kafka clients' retried errors: warnings, one line when they start and one when they stop."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from aiokafka.errors import GroupCoordinatorNotAvailableError, UnknownMemberIdError

from stream.app.retry_log import QUIET_S, REMIND_S, RetryLog, retriable


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Lines(logging.Handler):
    def __init__(self, retries: RetryLog) -> None:
        super().__init__(level=logging.DEBUG)
        self.addFilter(retries)
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelname, record.getMessage()))


@pytest.fixture
def setup() -> Iterator[tuple[_Clock, RetryLog, _Lines, logging.Logger]]:
    clock = _Clock()
    retries = RetryLog(clock)
    lines = _Lines(retries)
    logger = logging.getLogger("aiokafka.test_retry_log")
    logger.propagate = False  # only `lines` sees these: they are what is under test
    logger.handlers = [lines]
    logger.setLevel(logging.DEBUG)
    yield clock, retries, lines, logger
    logger.handlers = []
    logger.propagate = True


def test_a_retried_error_is_a_warning(
    setup: tuple[_Clock, RetryLog, _Lines, logging.Logger],
) -> None:
    _, _, lines, logger = setup
    logger.error("Group Coordinator Request failed: %s", GroupCoordinatorNotAvailableError())
    logger.error("Unable connect to node with id %s: %s", 1, ConnectionRefusedError(111, "no"))
    logger.error("Unexpected error in join group: %s", UnknownMemberIdError())  # not retried
    assert [level for level, _ in lines.lines] == ["WARNING", "WARNING", "ERROR"]


def test_an_outage_is_two_lines_with_the_count(
    setup: tuple[_Clock, RetryLog, _Lines, logging.Logger],
) -> None:
    clock, retries, lines, logger = setup
    for attempt in range(1250):
        clock.now += 0.04
        logger.error('Unable connect to "%s:%s": %s', "127.0.0.1", 9092 + attempt % 2,
                     OSError(111, "Connect call failed"))  # fmt: skip
        retries.flush()
    assert len(lines.lines) == 1  # the first, then nothing for 50 s
    clock.now += QUIET_S
    retries.flush()
    assert [m.split(",")[0] for _, m in lines.lines] == [
        'Unable connect to "127.0.0.1:9092": [Errno 111] Connect call failed',
        "stopped",
    ]
    assert "1249 more like it in 50 s" in lines.lines[1][1]
    retries.flush()
    assert len(lines.lines) == 2


def test_a_long_outage_has_a_reminder_a_minute(
    setup: tuple[_Clock, RetryLog, _Lines, logging.Logger],
) -> None:
    clock, _, lines, logger = setup
    for _ in range(int(3 * REMIND_S)):
        clock.now += 1.0
        logger.warning("Heartbeat failed: %r", TimeoutError())
    assert [m.split(",")[0] for _, m in lines.lines] == ["Heartbeat failed: TimeoutError()"] + [
        "still repeating"
    ] * 2


def test_other_loggers_and_debug_records_pass(
    setup: tuple[_Clock, RetryLog, _Lines, logging.Logger],
) -> None:
    _, retries, lines, logger = setup
    for _ in range(3):
        logger.debug("sent %d", 5)
    mine = logging.LogRecord("stream.app", logging.ERROR, __file__, 1, "mine", (), None)
    assert retries.filter(mine) and retries.filter(mine)
    assert len(lines.lines) == 3


def test_a_record_is_decided_once_for_every_handler(
    setup: tuple[_Clock, RetryLog, _Lines, logging.Logger],
) -> None:
    _, retries, lines, logger = setup
    second = _Lines(retries)
    logger.addHandler(second)
    logger.error("Heartbeat failed: %r", TimeoutError())
    assert len(lines.lines) == len(second.lines) == 1


def test_retriable_reads_the_arguments_and_the_exception() -> None:
    def record(*args: object, exc: BaseException | None = None) -> logging.LogRecord:
        info = (type(exc), exc, None) if exc is not None else None
        return logging.LogRecord("aiokafka", logging.ERROR, __file__, 1, "m %s", args, info)

    assert retriable(record(GroupCoordinatorNotAvailableError()))
    assert retriable(record("x", exc=ConnectionResetError()))
    assert not retriable(record("x"))
    assert not retriable(record(UnknownMemberIdError()))
    metadata = logging.LogRecord("aiokafka.client", logging.ERROR, __file__, 1,
                                 "Unable to update metadata from %s", ([1],), None)  # fmt: skip
    assert retriable(metadata)
