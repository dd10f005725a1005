"""Click options made from the `Settings` fields: flag, variable, doc, default and parser."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from stream.setting_kinds import Kind
from stream.settings import Settings
from stream.settings_declared import declared_setting

F = TypeVar("F", bound=Callable[..., Any])


class SettingType(click.ParamType):
    """A setting's own parser as a click type, so a flag is read exactly as its variable is."""

    def __init__(self, kind: Kind[Any]) -> None:
        self.kind = kind
        self.name = kind.metavar

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return self.kind.parse(value)
        except ValueError as error:
            self.fail(str(error), param, ctx)


def click_type(kind: Kind[Any]) -> click.ParamType:
    """The click type of a setting's kind; click's own where it shows the choices or range."""
    if kind.choices:
        return click.Choice(kind.choices)
    if kind.minimum is not None:
        return click.IntRange(min=kind.minimum, max=kind.maximum)
    return SettingType(kind)


def setting_option(name: str, flag: str | None = None, **kwargs: Any) -> Callable[[F], F]:
    """An option for the settings field `name`, also read from its variable.

    The command receives it as `name`, None when neither the flag nor the variable is given,
    so that `settings_from` falls back to the field's default. The flag is `--name-with-dashes`
    unless given; a boolean field takes a pair such as `--exactly-once/--at-least-once`.
    `kwargs` go to `click.option`, e.g. a `type` that checks more on the command line.
    """
    entry = declared_setting(name)
    flag = flag or "--" + name.replace("_", "-")
    shown = entry.default
    if "/" in flag:
        on, off = flag.split("/")
        shown = (on if entry.default == "true" else off).removeprefix("--")
    else:
        kwargs.setdefault("type", click_type(entry.kind))
    help = entry.doc + (f"  [default: {shown}]" if shown else "")
    return click.option(
        flag, name, envvar=entry.env, show_envvar=True, default=None, help=help, **kwargs
    )


def settings_from(**options: Any) -> Settings:
    """The settings: options given on the command line, else the environment, else defaults."""
    try:
        return Settings.from_env(**{k: v for k, v in options.items() if v is not None})
    except ValueError as error:
        raise click.UsageError(str(error)) from None


def jobs_option(help: str) -> Callable[[F], F]:
    """`--jobs N`: the processes a replay splits the contacts over (stream/cli/replay_jobs.py)."""
    return click.option(
        "--jobs", default=1, show_default=True, type=click.IntRange(min=1), help=help
    )
