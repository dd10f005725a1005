"""The Faust app of a segstream worker: settings, topics and the one state table."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from faust.auth import SASLCredentials, SSLCredentials

from stream.app.faust_private import App
from stream.app.topics import TopicNames, repartition_topic
from stream.ops.kafka_security import KafkaSecurity
from stream.settings import Settings

TABLE = "state"
RAW = "raw"
# Events a stream may hold ahead of the agent (Faust's default: 4096). Faust stops fetching
# a partition whose stream queue is under pressure and fetches again once it drains; with
# room for only two batches that happened around every batch, and the agent then waited for
# a fresh fetch. Room for several batches removes the stall (figures: docs/worker.md).
STREAM_BUFFER = 10_000


@dataclass(frozen=True, slots=True)
class WorkerApp:
    """The app and the channels and table the agent is wired to."""

    app: Any  # faust.App; faust's own annotations are partial, so Any at this boundary
    events: Any  # the input channel: contact-events and its repartition topic
    outputs: tuple[Any, ...]  # topics the worker writes, declared at start
    table: Any
    topics: TopicNames


def instance_id(settings: Settings) -> str:
    """Stable per worker across restarts: the group id and the worker's state directory."""
    where = hashlib.sha256(str(settings.state_dir.resolve()).encode()).hexdigest()[:12]
    return f"{settings.app_id}-{where}"


def broker_credentials(security: KafkaSecurity) -> Any:
    """Faust's form of `security`: SASL or TLS credentials, or None for PLAINTEXT.

    Faust hands them to every client it makes (consumer, producer, topic creation).
    """
    if security.sasl:
        return SASLCredentials(
            username=security.username,
            password=security.password,
            mechanism=security.mechanism,
            ssl_context=security.ssl_context(),  # None: SASL_PLAINTEXT
        )
    if security.tls:
        return SSLCredentials(security.ssl_context())
    return None


def create_app(settings: Settings) -> WorkerApp:
    """Build the Faust app for `settings` (nothing connects until the worker starts)."""
    partitions = settings.partitions
    app = App(
        settings.app_id,
        broker=settings.broker,
        broker_credentials=broker_credentials(KafkaSecurity.of(settings)),
        store=settings.store,
        datadir=str(settings.state_dir),
        topic_partitions=partitions,
        topic_replication_factor=1,
        table_standby_replicas=settings.standby_replicas,
        processing_guarantee="exactly_once" if settings.exactly_once else "at_least_once",
        key_serializer=RAW,
        value_serializer=RAW,
        web_enabled=settings.web_port > 0,
        web_port=settings.web_port or 6066,
        web_host=settings.web_host,
        # A restarted worker rejoins at once instead of waiting out the old member's
        # session (60 s by default); 6 s is the broker's minimum session timeout.
        broker_session_timeout=6.0,
        # Static membership: a worker restarted on the same state directory takes its old
        # place in the group at once, instead of a second rebalance when the old member's
        # session expires (which drops buffered events mid-recovery).
        consumer_group_instance_id=instance_id(settings),
        broker_heartbeat_interval=1.0,
        broker_commit_interval=1.0,
        broker_max_poll_records=max(500, settings.batch_size),
        stream_buffer_maxsize=max(STREAM_BUFFER, 5 * settings.batch_size),
        producer_linger=0.002,
        producer_max_batch_size=256 * 1024,
        consumer_auto_offset_reset="earliest",
        # Our own lines go to stderr; Faust must not take over sys.stdout.
        worker_redirect_stdouts=False,
    )

    def topic(name: str) -> Any:
        return app.topic(
            name,
            partitions=partitions,
            key_type=bytes,
            value_type=bytes,
            key_serializer=RAW,
            value_serializer=RAW,
        )

    repartition = repartition_topic(settings)
    events = app.topic(
        settings.events_topic,
        repartition,
        partitions=partitions,
        key_type=bytes,
        value_type=bytes,
        key_serializer=RAW,
        value_serializer=RAW,
    )
    # Keys and values are raw bytes through the app-wide raw serializers set above.
    table = app.Table(TABLE, partitions=partitions, key_type=bytes, value_type=bytes)
    outputs = (
        topic(settings.changes_topic),
        topic(settings.dlq_topic),
        topic(repartition),
        topic(settings.events_topic),
    )
    names = TopicNames(
        events=settings.events_topic,
        repartition=repartition,
        changes=settings.changes_topic,
        dead_letters=settings.dlq_topic,
        changelog=table.changelog_topic.get_topic_name(),
    )
    return WorkerApp(app, events, outputs, table, names)
