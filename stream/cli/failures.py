"""How a command fails when something it needs is not there: one line and a documented code.

Every command runs inside `reported` (stream/cli/main.py): an operational error (the broker or
Redis does not answer, another `InfrastructureError`) ends the process with one line on
standard error and `EXIT_UNAVAILABLE`, and its traceback only at `--loglevel debug`. Anything
else is a bug and keeps its traceback. The exit codes are listed in the README.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
from aiokafka.errors import KafkaConnectionError

from stream import logs
from stream.cli.options import setting_option
from stream.errors import InfrastructureError
from stream.ops.probe import CHECK_BROKER
from stream.settings_declared import declared_setting

F = TypeVar("F", bound=Callable[..., Any])

EXIT_UNAVAILABLE = 3  # a broker or service segstream needs cannot be reached or used

CHECK_REDIS = "check that it runs and that SEGSTREAM_REDIS_URL names it"


def explain(error: BaseException) -> str | None:
    """The one line for an operational error, or None when `error` is not one."""
    if isinstance(error, InfrastructureError):
        return str(error)  # its message already says what to check
    if isinstance(error, KafkaConnectionError):
        why = error.args[0] if error.args else "no reason given"
        return f"cannot talk to the Kafka broker ({why}); {CHECK_BROKER}"
    # Imported here: redis is slow to import, and only Redis-backed commands need it.
    from redis.exceptions import ConnectionError as RedisConnectionError

    if isinstance(error, RedisConnectionError):
        return f"cannot reach Redis ({error}); {CHECK_REDIS}"
    return None


@contextmanager
def reported() -> Iterator[None]:
    """Turn an operational error into one line on standard error and `EXIT_UNAVAILABLE`."""
    try:
        yield
    except Exception as error:
        line = explain(error)
        if line is None:
            raise
        if logs.debugging():
            traceback.print_exc()
        click.echo(f"error: {line}", err=True)
        sys.exit(EXIT_UNAVAILABLE)


def loglevel_option() -> Callable[[F], F]:
    """`--loglevel`: the `loglevel` setting, which also sets up logging as soon as it is read."""
    return setting_option("loglevel", callback=_configure_logging, is_eager=True)


def _configure_logging(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    del ctx, param
    logs.configure(value or declared_setting("loglevel").default)
    return value
