"""How a setting is declared and written as text: `setting()`, and the kinds of values, each
with its parser and renderer."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar

from stream.core.language.durations import SETTING, format_duration, parse_duration
from stream.core.timefmt import format_ts, parse_ts

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Kind(Generic[T]):
    """How a setting is written as text: parsed from it, rendered back, named in `--help`.

    `choices` and `minimum` repeat what `parse` accepts, for a command line to show and check.
    """

    metavar: str
    parse: Callable[[str], T]
    render: Callable[[T], str] = str
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None


def parse_bool(text: str) -> bool:
    """Parse true/false, yes/no, on/off or 1/0."""
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"not a boolean: {text!r} (write true or false)")


def parse_timedelta(text: str) -> timedelta:
    """Parse a setting's duration (`50ms`, `30s`, `15m`, `1h`, `90d`, `2w`, or zero)."""
    return parse_duration(text.strip(), SETTING) * _MICROSECOND


def render_timedelta(value: timedelta) -> str:
    """Write a duration as `parse_timedelta` reads it, in its largest exact unit."""
    return format_duration(value // _MICROSECOND, SETTING)


def _parse_store(text: str) -> str:
    if not text.startswith(("rocksdb://", "memory://")):
        raise ValueError(f"{text!r} is not a store URL (write rocksdb:// or memory://)")
    return text


def _parse_optional_path(text: str) -> Path | None:
    return Path(text) if text else None


def at_least(minimum: int, maximum: int | None = None) -> Kind[int]:
    """A whole number of at least `minimum` (and at most `maximum`, when given)."""

    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            need = "must not be negative" if minimum == 0 else f"must be at least {minimum}"
            raise ValueError(f"{need}: {text!r}")
        if maximum is not None and value > maximum:
            raise ValueError(f"must be at most {maximum}: {text!r}")
        return value

    return Kind("integer", parse, minimum=minimum, maximum=maximum)


def number_up_to(maximum: float) -> Kind[float]:
    """A finite number above zero and at most `maximum`, written as Python reads floats."""

    def parse(text: str) -> float:
        value = float(text)
        if not 0 < value <= maximum:
            raise ValueError(f"must be above 0 and at most {maximum:g}: {text!r}")
        return value

    return Kind("number", parse, repr)


def _parse_timestamp(text: str) -> int:
    return parse_ts(text.strip())


def one_of(*choices: str) -> Kind[str]:
    """One of a few words."""

    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError(f"{text!r} is not one of {', '.join(choices)}")
        return text

    return Kind("text", parse, choices=choices)


TEXT: Kind[str] = Kind("text", str)
BOOL: Kind[bool] = Kind("boolean", parse_bool, lambda v: str(v).lower())
DURATION: Kind[timedelta] = Kind("duration", parse_timedelta, render_timedelta)
PATH: Kind[Path] = Kind("path", Path)
OPTIONAL_PATH: Kind[Path | None] = Kind(
    "path", _parse_optional_path, lambda v: "" if v is None else str(v)
)
STORE_URL: Kind[str] = Kind("text", _parse_store)
# An instant, RFC 3339 with a time zone; the value is microseconds since the epoch.
TIMESTAMP: Kind[int] = Kind("timestamp", _parse_timestamp, format_ts)


def setting(
    env: str,
    doc: str,
    kind: Kind[Any],
    *,
    default: Any = dataclasses.MISSING,
    default_factory: Callable[[], Any] | None = None,
    secret: bool = False,
) -> Any:
    """Declare a settings field: its variable, a one-line doc, its kind; a `secret` has no repr."""
    metadata = {"env": env, "doc": doc, "kind": kind}
    if default_factory is not None:
        return field(default_factory=default_factory, metadata=metadata, repr=not secret)
    return field(default=default, metadata=metadata, repr=not secret)


def read_fields(
    cls: type[Any], env: Mapping[str, str], overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """The values of `cls`'s `setting` fields that `env` sets, parsed, then `overrides`.

    A malformed value raises ValueError naming the variable; an unknown override, TypeError.
    """
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        raw = env.get(f.metadata["env"])
        if raw is None:
            continue
        try:
            values[f.name] = f.metadata["kind"].parse(raw)
        except ValueError as exc:
            raise ValueError(f"{f.metadata['env']}: {exc}") from None
    unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
    values.update(overrides)
    return values


def written_fields(settings: Any) -> dict[str, str]:
    """The environment variables that reproduce `settings`, a dataclass of `setting` fields."""
    return {
        f.metadata["env"]: f.metadata["kind"].render(getattr(settings, f.name))
        for f in dataclasses.fields(settings)
    }
