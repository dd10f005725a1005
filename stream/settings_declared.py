"""The settings as declared, for `--help`, the command-line options and the README table."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from stream.setting_kinds import Kind
from stream.settings import Settings


@dataclass(frozen=True, slots=True)
class Declared:
    """One settings field as `--help`, the command line and the README show it."""

    name: str
    env: str
    doc: str
    kind: Kind[Any]
    default: str  # as its variable would be written; "" when there is none


def declared() -> tuple[Declared, ...]:
    """Every settings field, in declaration order."""
    defaults = Settings().as_env()
    return tuple(
        Declared(
            f.name,
            f.metadata["env"],
            f.metadata["doc"],
            f.metadata["kind"],
            defaults[f.metadata["env"]],
        )
        for f in dataclasses.fields(Settings)
    )


def declared_setting(name: str) -> Declared:
    """The settings field called `name`; KeyError when there is none."""
    for entry in declared():
        if entry.name == name:
            return entry
    raise KeyError(f"no setting {name!r}")


def env_names() -> tuple[str, ...]:
    """Every environment variable `Settings.from_env` reads."""
    return tuple(f.metadata["env"] for f in dataclasses.fields(Settings))


def help_text() -> str:
    """The settings as a block for `--help`: variable, default and doc for each."""
    lines = ["Settings (environment variables, with defaults):"]
    for entry in declared():
        lines.append(f"  {entry.env}={entry.default}")
        lines.append(f"      {entry.doc}")
    return "\n".join(lines)
