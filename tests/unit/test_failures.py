"""An operational error ends a command with one line and exit 3; a bug keeps its traceback."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import click
import pytest
from aiokafka.errors import KafkaConnectionError
from click.testing import CliRunner
from redis.exceptions import ConnectionError as RedisConnectionError

from stream import logs
from stream.cli.failures import EXIT_UNAVAILABLE, explain, loglevel_option
from stream.cli.main import Segstream
from stream.errors import Unreachable
from stream.logs import FAUST_SUBCLASSES, IsoFormatter


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (Unreachable("cannot reach X; check Y"), "cannot reach X; check Y"),
        (
            KafkaConnectionError("Unable to bootstrap from [('h', 1)]"),
            "cannot talk to the Kafka broker (Unable to bootstrap from [('h', 1)]); "
            "check that it runs and that --broker or SEGSTREAM_BROKER names it",
        ),
        (
            RedisConnectionError("Error 111 connecting to 127.0.0.1:6379."),
            "cannot reach Redis (Error 111 connecting to 127.0.0.1:6379.); "
            "check that it runs and that SEGSTREAM_REDIS_URL names it",
        ),
        (ValueError("a bug"), None),
    ],
)
def test_explain(error: BaseException, line: str | None) -> None:
    assert explain(error) == line


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """`logs.configure` replaces the root handlers; give pytest's back afterwards."""
    root = logging.getLogger()
    handlers, levels = (
        root.handlers[:],
        {name: logging.getLogger(name).level for name in ("", "stream", *FAUST_SUBCLASSES)},
    )
    configured = logs._configured
    yield
    root.handlers[:] = handlers
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    logs._configured = configured


def _group(error: Exception) -> click.Group:
    @click.group(cls=Segstream)
    def group() -> None:
        pass

    @group.command()
    @loglevel_option()
    def fails(**options: object) -> None:
        raise error

    return group


@pytest.mark.usefixtures("logging_restored")
def test_an_unreachable_broker_is_one_line_and_exit_3() -> None:
    result = CliRunner().invoke(_group(Unreachable("cannot reach the broker; check it")), ["fails"])
    assert result.exit_code == EXIT_UNAVAILABLE
    assert result.stderr == "error: cannot reach the broker; check it\n"


@pytest.mark.usefixtures("logging_restored")
@pytest.mark.parametrize(("args", "env"), [(["--loglevel", "debug"], {}),
                                           ([], {"SEGSTREAM_LOGLEVEL": "debug"})])  # fmt: skip
def test_at_debug_the_traceback_comes_first(args: list[str], env: dict[str, str]) -> None:
    group = _group(KafkaConnectionError("Unable to bootstrap"))
    result = CliRunner().invoke(group, ["fails", *args], env=env)
    assert result.exit_code == EXIT_UNAVAILABLE
    assert result.stderr.startswith("Traceback (most recent call last):")
    last = result.stderr.splitlines()[-1]
    assert last.startswith("error: cannot talk to the Kafka broker (Unable to bootstrap); ")


def test_a_bug_keeps_its_exception() -> None:
    result = CliRunner().invoke(_group(ValueError("a bug")), ["fails"])
    assert result.exit_code == 1
    assert isinstance(result.exception, ValueError)


def test_log_lines_carry_an_iso_timestamp_in_utc() -> None:
    record = logging.LogRecord("stream.x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    record.created, record.msecs = 1_793_525_400.125, 125.0
    formatted = IsoFormatter(logs.FORMAT).format(record)
    assert formatted == "2026-11-01T09:30:00.125Z [INFO] hello you"


@pytest.mark.usefixtures("logging_restored")
@pytest.mark.parametrize(
    ("level", "ours", "libraries"),
    [
        ("debug", logging.DEBUG, logging.DEBUG),
        ("info", logging.INFO, logging.WARNING),
        ("warning", logging.WARNING, logging.WARNING),
        ("error", logging.ERROR, logging.ERROR),
    ],
)
def test_faust_and_kafka_say_more_than_warnings_only_at_debug(
    level: str, ours: int, libraries: int
) -> None:
    logs.configure(level)
    assert logging.getLogger("stream.app.progress").getEffectiveLevel() == ours
    for library in ("faust.app.base", "mode.services", "aiokafka.client", *FAUST_SUBCLASSES):
        assert logging.getLogger(library).getEffectiveLevel() == libraries
    assert logs.debugging() == (level == "debug")


@pytest.mark.usefixtures("logging_restored")
def test_a_commit_that_raced_a_rebalance_is_a_warning_and_other_errors_stay_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure("info")
    coordinator = logging.getLogger(logs.GROUP_COORDINATOR)
    coordinator.error(
        "OffsetCommit failed for group %s due to group error (%s), will rejoin",
        "g",
        "[Error 22] IllegalGenerationError: g",
    )
    coordinator.error("Heartbeat failed: %r", "boom")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2, lines
    assert lines[0].endswith(
        "[WARNING] OffsetCommit failed for group g due to group error"
        " ([Error 22] IllegalGenerationError: g), will rejoin (a rebalance began, as when a"
        " worker joins or leaves: the partitions' new owners read on from the last commit"
        " that held)"
    ), lines
    assert lines[1].endswith("[ERROR] Heartbeat failed: 'boom'"), lines
