"""Click options shared by the commands: each also read from its SEGSTREAM_* variable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def setting_option(name: str, env: str, help: str, **kwargs: Any) -> Callable[[F], F]:
    """An option whose default comes from `env`, then from `Settings` (None when unset)."""
    return click.option(name, envvar=env, show_envvar=True, default=None, help=help, **kwargs)


def broker_option() -> Callable[[F], F]:
    return setting_option(
        "--broker",
        "SEGSTREAM_BROKER",
        "Kafka bootstrap URL, kafka://host:port.  [default: kafka://127.0.0.1:9092]",
    )
