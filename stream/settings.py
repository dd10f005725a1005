"""The one settings object: every field has an environment variable and a one-line doc."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

ENV_PREFIX = "SEGSTREAM_"

_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d)$")
_DURATION_UNITS = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_duration(text: str) -> timedelta:
    """Parse a duration such as ``500ms``, ``30s``, ``15m``, ``1h`` or ``90d``."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"not a duration: {text!r} (write e.g. 500ms, 30s, 15m, 1h, 90d)")
    return int(match.group(1)) * _DURATION_UNITS[match.group(2)]


def format_duration(value: timedelta) -> str:
    """Render a duration in the largest unit that divides it exactly."""
    for unit in ("d", "h", "m", "s", "ms"):
        step = _DURATION_UNITS[unit]
        if value % step == timedelta(0):
            return f"{value // step}{unit}"
    raise ValueError(f"duration below a millisecond: {value}")


def parse_bool(text: str) -> bool:
    """Parse true/false, yes/no, on/off or 1/0."""
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"not a boolean: {text!r} (write true or false)")


def _parse_positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(f"must be at least 1: {text!r}")
    return value


def _parse_count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"must not be negative: {text!r}")
    return value


def _parse_choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError(f"{text!r} is not one of {', '.join(choices)}")
        return text

    return parse


def _parse_store(text: str) -> str:
    if not text.startswith(("rocksdb://", "memory://")):
        raise ValueError(f"{text!r} is not a store URL (write rocksdb:// or memory://)")
    return text


def _parse_optional_path(text: str) -> Path | None:
    return Path(text) if text else None


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "segstream" / "worker"


def setting(
    env: str,
    doc: str,
    parse: Callable[[str], Any],
    *,
    default: Any = dataclasses.MISSING,
    default_factory: Callable[[], Any] | None = None,
    render: Callable[[Any], str] = str,
) -> Any:
    """Declare a settings field: its environment variable, a one-line doc, and how to parse it."""
    metadata = {"env": env, "doc": doc, "parse": parse, "render": render}
    if default_factory is not None:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True, slots=True)
class Settings:
    """How a segstream process connects, names its topics, keeps state and treats time.

    Add a field with `setting(...)`; `from_env` and `--help` pick it up from there.
    """

    broker: str = setting(
        "SEGSTREAM_BROKER",
        "Kafka bootstrap URL (kafka://host:port[;host:port...]).",
        str,
        default="kafka://127.0.0.1:9092",
    )
    redis_url: str = setting(
        "SEGSTREAM_REDIS_URL",
        "Redis URL for the materialised segment memberships.",
        str,
        default="redis://127.0.0.1:6379/0",
    )
    events_topic: str = setting(
        "SEGSTREAM_EVENTS_TOPIC",
        "Topic of incoming contact events.",
        str,
        default="contact-events",
    )
    changes_topic: str = setting(
        "SEGSTREAM_CHANGES_TOPIC",
        "Topic the segment enter/leave changes are written to.",
        str,
        default="segment-changes",
    )
    dlq_topic: str = setting(
        "SEGSTREAM_DLQ_TOPIC",
        "Dead-letter topic for events that cannot be applied.",
        str,
        default="contact-events-dlq",
    )
    partitions: int = setting(
        "SEGSTREAM_PARTITIONS",
        "Partitions of the topics and tables segstream creates.",
        _parse_positive_int,
        default=8,
    )
    state_dir: Path = setting(
        "SEGSTREAM_STATE_DIR",
        "Directory for the worker's local table state (RocksDB).",
        Path,
        default_factory=_default_state_dir,
    )
    store: str = setting(
        "SEGSTREAM_STORE",
        "Table store: rocksdb:// (durable, local) or memory:// (tests).",
        _parse_store,
        default="rocksdb://",
    )
    exactly_once: bool = setting(
        "SEGSTREAM_EXACTLY_ONCE",
        "Use Kafka transactions so each event is applied exactly once.",
        parse_bool,
        default=False,
        render=lambda v: str(v).lower(),
    )
    clock: str = setting(
        "SEGSTREAM_CLOCK",
        "Time source: wall (the worker's clock) or event (event timestamps).",
        _parse_choice("wall", "event"),
        default="wall",
    )
    dedupe_horizon: timedelta = setting(
        "SEGSTREAM_DEDUPE_HORIZON",
        "How long an event id is remembered to drop duplicates.",
        parse_duration,
        default=timedelta(hours=24),
        render=format_duration,
    )
    future_tolerance: timedelta = setting(
        "SEGSTREAM_FUTURE_TOLERANCE",
        "How far in the future an event timestamp may lie.",
        parse_duration,
        default=timedelta(hours=1),
        render=format_duration,
    )
    max_message_bytes: int = setting(
        "SEGSTREAM_MAX_MESSAGE_BYTES",
        "Largest event accepted; bigger ones go to the DLQ.",
        _parse_positive_int,
        default=1_048_576,
    )
    standby_replicas: int = setting(
        "SEGSTREAM_STANDBY_REPLICAS",
        "Standby copies of each table partition on other workers.",
        _parse_count,
        default=1,
    )
    rules_file: Path | None = setting(
        "SEGSTREAM_RULES_FILE",
        "Segment definition file (YAML) the worker evaluates.",
        _parse_optional_path,
        default=None,
        render=lambda v: "" if v is None else str(v),
    )
    app_id: str = setting(
        "SEGSTREAM_APP_ID",
        "Worker group id; names the consumer group, the table and its changelog topic.",
        str,
        default="segstream",
    )
    batch_size: int = setting(
        "SEGSTREAM_BATCH_SIZE",
        "Most events the worker applies between two durable writes.",
        _parse_positive_int,
        default=2000,
    )
    batch_wait: timedelta = setting(
        "SEGSTREAM_BATCH_WAIT",
        "Longest the worker waits to fill a batch before applying what it has.",
        parse_duration,
        default=timedelta(milliseconds=50),
        render=format_duration,
    )
    key_mismatch: str = setting(
        "SEGSTREAM_KEY_MISMATCH",
        "A message keyed with another contact id: dead-letter it, or repartition it.",
        _parse_choice("dead-letter", "repartition"),
        default="dead-letter",
    )
    web_port: int = setting(
        "SEGSTREAM_WEB_PORT",
        "Port of the worker's Faust web server (metrics, health); 0 turns it off.",
        _parse_count,
        default=0,
    )
    api_token: str = setting(
        "SEGSTREAM_API_TOKEN",
        "Bearer token the serving API requires on /v1/ (empty: none, loopback only).",
        str,
        default="",
    )
    api_host: str = setting(
        "SEGSTREAM_API_HOST",
        "Address the serving API listens on.",
        str,
        default="127.0.0.1",
    )
    api_port: int = setting(
        "SEGSTREAM_API_PORT",
        "Port the serving API listens on.",
        _parse_positive_int,
        default=8080,
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from the environment; keyword overrides win over it.

        A malformed value raises ValueError naming the variable.
        """
        source = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = source.get(f.metadata["env"])
            if raw is None:
                continue
            try:
                values[f.name] = f.metadata["parse"](raw)
            except ValueError as exc:
                raise ValueError(f"{f.metadata['env']}: {exc}") from None
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        values.update(overrides)
        return cls(**values)

    def bootstrap_servers(self) -> str:
        """The broker as aiokafka wants it: ``host:port[,host:port...]``."""
        return bootstrap_servers(self.broker)

    def as_env(self) -> dict[str, str]:
        """The environment variables that reproduce these settings."""
        return {
            f.metadata["env"]: f.metadata["render"](getattr(self, f.name))
            for f in dataclasses.fields(self)
        }


def bootstrap_servers(url: str) -> str:
    """Turn a Faust broker URL (``kafka://h:p;h2:p2``) into ``h:p,h2:p2``."""
    hosts = [part.strip() for part in url.replace(";", ",").split(",")]
    return ",".join(h.removeprefix("kafka://") for h in hosts if h)


def env_names() -> tuple[str, ...]:
    """Every environment variable `Settings.from_env` reads."""
    return tuple(f.metadata["env"] for f in dataclasses.fields(Settings))


def describe() -> list[tuple[str, str, str]]:
    """One (variable, default, doc) row per field, in declaration order."""
    defaults = Settings().as_env()
    return [
        (f.metadata["env"], defaults[f.metadata["env"]], f.metadata["doc"])
        for f in dataclasses.fields(Settings)
    ]


def help_text() -> str:
    """The settings as a block for `--help`: variable, default and doc for each."""
    lines = ["Settings (environment variables, with defaults):"]
    for env, default, doc in describe():
        lines.append(f"  {env}={default}")
        lines.append(f"      {doc}")
    return "\n".join(lines)
