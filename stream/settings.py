"""The one settings object: every field has an environment variable and a one-line doc."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from stream.core.limits import DEFAULT_LIMITS, MAX_DEPTH, Limits
from stream.ops.kafka_security import MECHANISMS, PROTOCOLS, KafkaSecurity
from stream.setting_kinds import (
    BOOL,
    DURATION,
    OPTIONAL_PATH,
    PATH,
    STORE_URL,
    TEXT,
    TIMESTAMP,
    at_least,
    number_up_to,
    one_of,
    read_fields,
    setting,
    written_fields,
)

ENV_PREFIX = "SEGSTREAM_"


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "segstream" / "worker"


@dataclass(frozen=True, slots=True)
class Settings:
    """How a segstream process connects, names its topics, keeps state and treats time.

    Add a field with `setting(...)` and a row in the README's table; `from_env`, `--help` and
    `setting_option` (stream/cli/options.py) pick it up from there.
    """

    broker: str = setting(
        "SEGSTREAM_BROKER",
        "Kafka bootstrap URL (kafka://host:port[;host:port...]).",
        TEXT,
        default="kafka://127.0.0.1:9092",
    )
    kafka_security_protocol: str = setting(
        "SEGSTREAM_KAFKA_SECURITY_PROTOCOL",
        "How clients reach Kafka: PLAINTEXT, SASL_SSL, SSL or SASL_PLAINTEXT.",
        one_of(*PROTOCOLS),
        default="PLAINTEXT",
    )
    kafka_sasl_mechanism: str = setting(
        "SEGSTREAM_KAFKA_SASL_MECHANISM",
        "SASL mechanism with a SASL_ protocol: SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN.",
        one_of(*MECHANISMS),
        default="SCRAM-SHA-512",
    )
    kafka_sasl_username: str = setting(
        "SEGSTREAM_KAFKA_SASL_USERNAME", "SASL user name (with a SASL_ protocol).", TEXT, default=""
    )
    kafka_sasl_password: str = setting(
        "SEGSTREAM_KAFKA_SASL_PASSWORD",
        "SASL password; never logged or shown.",
        TEXT,
        default="",
        secret=True,
    )
    kafka_ca_file: Path | None = setting(
        "SEGSTREAM_KAFKA_CA_FILE",
        "PEM file of the CA that signed the brokers' certificates (none: the system's CAs).",
        OPTIONAL_PATH,
        default=None,
    )
    redis_url: str = setting(
        "SEGSTREAM_REDIS_URL",
        "Redis URL (rediss://user:password@host:port/0 for TLS and an ACL user).",
        TEXT,
        default="redis://127.0.0.1:6379/0",
        secret=True,
    )
    redis_ca_file: Path | None = setting(
        "SEGSTREAM_REDIS_CA_FILE",
        "PEM file of the CA that signed the rediss:// server's certificate (none: the system's).",
        OPTIONAL_PATH,
        default=None,
    )
    events_topic: str = setting(
        "SEGSTREAM_EVENTS_TOPIC",
        "Topic of incoming contact events.",
        TEXT,
        default="contact-events",
    )
    changes_topic: str = setting(
        "SEGSTREAM_CHANGES_TOPIC",
        "Topic the segment enter/leave changes are written to.",
        TEXT,
        default="segment-changes",
    )
    dlq_topic: str = setting(
        "SEGSTREAM_DLQ_TOPIC",
        "Dead-letter topic for events that cannot be applied.",
        TEXT,
        default="contact-events-dlq",
    )
    definitions_topic: str = setting(
        "SEGSTREAM_DEFINITIONS_TOPIC",
        "Compacted topic of the published segment definition versions.",
        TEXT,
        default="segment-definitions",
    )
    partitions: int = setting(
        "SEGSTREAM_PARTITIONS",
        "Partitions of the topics and tables segstream creates.",
        at_least(1),
        default=8,
    )
    state_dir: Path = setting(
        "SEGSTREAM_STATE_DIR",
        "Directory for the worker's local table state (RocksDB).",
        PATH,
        default_factory=_default_state_dir,
    )
    store: str = setting(
        "SEGSTREAM_STORE",
        "Table store: rocksdb:// (durable, local) or memory:// (tests).",
        STORE_URL,
        default="rocksdb://",
    )
    exactly_once: bool = setting(
        "SEGSTREAM_EXACTLY_ONCE",
        "Use Kafka transactions: a read_committed consumer sees every change exactly once.",
        BOOL,
        default=False,
    )
    clock: str = setting(
        "SEGSTREAM_CLOCK",
        "Time source: wall (live: later of event time and wall clock) or event (event time).",
        one_of("wall", "event"),
        default="wall",
    )
    dedupe_horizon: timedelta = setting(
        "SEGSTREAM_DEDUPE_HORIZON",
        "How long an event id is remembered to drop duplicates.",
        DURATION,
        default=timedelta(hours=24),
    )
    future_tolerance: timedelta = setting(
        "SEGSTREAM_FUTURE_TOLERANCE",
        "How far in the future an event timestamp may lie.",
        DURATION,
        default=timedelta(hours=1),
    )
    max_message_bytes: int = setting(
        "SEGSTREAM_MAX_MESSAGE_BYTES",
        "Largest event accepted; bigger ones go to the DLQ.",
        at_least(1),
        default=1_048_576,
    )
    max_dead_letter_bytes: int = setting(
        "SEGSTREAM_MAX_DEAD_LETTER_BYTES",
        "Largest dead-letter record; a longer original is cut, with its length and SHA-256.",
        at_least(16_384),
        default=1_000_000,
    )
    max_state_bytes: int = setting(
        "SEGSTREAM_MAX_STATE_BYTES",
        "Largest stored state of one contact; an event that would pass it goes to the DLQ.",
        at_least(1),
        default=1_000_000,
    )
    on_processing_error: str = setting(
        "SEGSTREAM_ON_PROCESSING_ERROR",
        "An unexpected error applying one event: dead-letter the event, or stop (exit 70).",
        one_of("dead-letter", "stop"),
        default="dead-letter",
    )
    max_event_id_chars: int = setting(
        "SEGSTREAM_MAX_EVENT_ID_CHARS",
        "Longest event id, in characters.",
        at_least(1),
        default=DEFAULT_LIMITS.event_id_chars,
    )
    max_contact_id_chars: int = setting(
        "SEGSTREAM_MAX_CONTACT_ID_CHARS",
        "Longest contact id, in characters (the contract's is 256).",
        at_least(1),
        default=DEFAULT_LIMITS.contact_id_chars,
    )
    max_text_chars: int = setting(
        "SEGSTREAM_MAX_TEXT_CHARS",
        "Longest string in traits or properties (keys too), and longest event type.",
        at_least(1),
        default=DEFAULT_LIMITS.text_chars,
    )
    max_depth: int = setting(
        "SEGSTREAM_MAX_DEPTH",
        "Deepest nesting of objects and lists in traits, and in properties.",
        at_least(1, MAX_DEPTH),
        default=DEFAULT_LIMITS.depth,
    )
    max_values: int = setting(
        "SEGSTREAM_MAX_VALUES",
        "Most values (members and list items, at every depth) in traits, and in properties.",
        at_least(1),
        default=DEFAULT_LIMITS.values,
    )
    max_number: float = setting(
        "SEGSTREAM_MAX_NUMBER",
        "Largest absolute value of a number in traits or properties.",
        number_up_to(1e289),
        default=DEFAULT_LIMITS.number_magnitude,
    )
    earliest_timestamp: int = setting(
        "SEGSTREAM_EARLIEST_TIMESTAMP",
        "Earliest event timestamp accepted.",
        TIMESTAMP,
        default=DEFAULT_LIMITS.earliest_us,
    )
    latest_timestamp: int = setting(
        "SEGSTREAM_LATEST_TIMESTAMP",
        "Event timestamps must be before this instant.",
        TIMESTAMP,
        default=DEFAULT_LIMITS.latest_us,
    )
    max_match_chars: int = setting(
        "SEGSTREAM_MAX_MATCH_CHARS",
        "Longest text a `matches` condition searches; a longer value does not match.",
        at_least(1),
        default=DEFAULT_LIMITS.match_chars,
    )
    standby_replicas: int = setting(
        "SEGSTREAM_STANDBY_REPLICAS",
        "Warm copies of each table partition on other workers; a rebalance promotes one.",
        at_least(0),
        default=1,
    )
    rules_file: Path | None = setting(
        "SEGSTREAM_RULES_FILE",
        "Segment definition file (YAML or JSON) the worker evaluates.",
        OPTIONAL_PATH,
        default=None,
    )
    app_id: str = setting(
        "SEGSTREAM_APP_ID",
        "Worker group id; names the consumer group, the table and its changelog topic.",
        TEXT,
        default="segstream",
    )
    batch_size: int = setting(
        "SEGSTREAM_BATCH_SIZE",
        "Most events the worker applies between two durable writes.",
        at_least(1),
        default=2000,
    )
    batch_wait: timedelta = setting(
        "SEGSTREAM_BATCH_WAIT",
        "Longest the worker waits to fill a batch before applying what it has.",
        DURATION,
        default=timedelta(milliseconds=50),
    )
    key_mismatch: str = setting(
        "SEGSTREAM_KEY_MISMATCH",
        "A message keyed with another contact id: dead-letter it, or repartition it.",
        one_of("dead-letter", "repartition"),
        default="dead-letter",
    )
    web_port: int = setting(
        "SEGSTREAM_WEB_PORT",
        "Port of the worker's Faust web server (metrics, health); 0 turns it off.",
        at_least(0),
        default=0,
    )
    web_host: str = setting(
        "SEGSTREAM_WEB_HOST",
        "Address the worker's web server listens on (0.0.0.0 for probes and scrapers).",
        TEXT,
        default="127.0.0.1",
    )
    status_file: Path | None = setting(
        "SEGSTREAM_STATUS_FILE",
        "JSON file the worker writes its per-partition clocks and counters to, twice a second.",
        OPTIONAL_PATH,
        default=None,
    )
    api_token: str = setting(
        "SEGSTREAM_API_TOKEN",
        "Bearer token the serving API requires on /v1/ (empty: none, loopback only).",
        TEXT,
        default="",
        secret=True,
    )
    api_host: str = setting(
        "SEGSTREAM_API_HOST", "Address the serving API listens on.", TEXT, default="127.0.0.1"
    )
    api_port: int = setting(
        "SEGSTREAM_API_PORT", "Port the serving API listens on.", at_least(1), default=8080
    )
    lint_min_size: int = setting(
        "SEGSTREAM_LINT_MIN_SIZE",
        "Health: a segment with fewer members than this is reported as too small.",
        at_least(0),
        default=100,
    )
    lint_min_share: float = setting(
        "SEGSTREAM_LINT_MIN_SHARE",
        "Health: so is one below this share of the contacts in any segment.",
        number_up_to(1.0),
        default=0.001,
    )
    lint_duplicate_jaccard: float = setting(
        "SEGSTREAM_LINT_DUPLICATE_JACCARD",
        "Health: two segments at or above this Jaccard index are reported as near-duplicates.",
        number_up_to(1.0),
        default=0.9,
    )
    lint_max_segments: int = setting(
        "SEGSTREAM_LINT_MAX_SEGMENTS",
        "Health: contacts in more segments than this are reported as over-segmented.",
        at_least(1),
        default=8,
    )

    progress_interval: timedelta = setting(
        "SEGSTREAM_PROGRESS_INTERVAL",
        "How often the worker prints its rates, lag and pending deadlines; 0 turns it off.",
        DURATION,
        default=timedelta(seconds=10),
    )
    connect_timeout: timedelta = setting(
        "SEGSTREAM_CONNECT_TIMEOUT",
        "Longest a command waits at start for the broker to answer; then it exits with 3.",
        DURATION,
        default=timedelta(seconds=30),
    )
    loglevel: str = setting(
        "SEGSTREAM_LOGLEVEL",
        "How much to log; debug adds Faust's and Kafka's own lines and tracebacks.",
        one_of("debug", "info", "warning", "error"),
        default="info",
    )

    def __post_init__(self) -> None:
        if self.earliest_timestamp >= self.latest_timestamp:
            raise ValueError(
                "SEGSTREAM_EARLIEST_TIMESTAMP must be before SEGSTREAM_LATEST_TIMESTAMP"
            )
        self.limits()  # every other bound is checked by its own kind
        KafkaSecurity.of(self)  # SASL needs a user name and password

    def limits(self) -> Limits:
        """The bounds on one input message these settings set."""
        return Limits(
            event_id_chars=self.max_event_id_chars,
            contact_id_chars=self.max_contact_id_chars,
            text_chars=self.max_text_chars,
            depth=self.max_depth,
            values=self.max_values,
            number_magnitude=self.max_number,
            earliest_us=self.earliest_timestamp,
            latest_us=self.latest_timestamp,
            match_chars=self.max_match_chars,
        )

    def future_tolerance_us(self) -> int:
        """`future_tolerance` in microseconds."""
        return self.future_tolerance // timedelta(microseconds=1)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from the environment; keyword overrides (parsed values) win over it.

        A malformed value raises ValueError naming the variable.
        """
        return cls(**read_fields(cls, os.environ if env is None else env, overrides))

    def bootstrap_servers(self) -> str:
        """The broker as aiokafka wants it: ``host:port[,host:port...]``."""
        return bootstrap_servers(self.broker)

    def as_env(self) -> dict[str, str]:
        """The environment variables that reproduce these settings."""
        return written_fields(self)


def bootstrap_servers(url: str) -> str:
    """Turn a Faust broker URL (``kafka://h:p;h2:p2``) into ``h:p,h2:p2``."""
    hosts = [part.strip() for part in url.replace(";", ",").split(",")]
    return ",".join(h.removeprefix("kafka://") for h in hosts if h)
