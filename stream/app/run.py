"""Start a worker in this process: check the broker, build the app, wire the agent and the
progress lines, run until a signal."""

from __future__ import annotations

import asyncio
import gc
import logging
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import faust
from mode import Service

from stream import logs
from stream.app.admin import ensure_topics
from stream.app.agent import install, stop_now
from stream.app.assignment import Assignment
from stream.app.clock import wall_us
from stream.app.definitions import publish_all
from stream.app.factory import WorkerApp, create_app
from stream.app.faust_private import UntestedVersion, check_versions
from stream.app.follow import DefinitionsFeed, Follower
from stream.app.follow_start import definitions_at_start
from stream.app.processor import Policy
from stream.app.progress import FaustSource, Heartbeat, Progress
from stream.app.rebuild_input import PartitionInput
from stream.app.retry_log import RETRIES
from stream.app.runtime import Runtime
from stream.app.sink import KafkaSink
from stream.app.store import table_store
from stream.app.switching import Switcher
from stream.app.topics import OutputTopics, repartition_topic
from stream.app.versions import Versions
from stream.app.web import install_web
from stream.core.definitions import Switch
from stream.core.evaluation.engine import Engine
from stream.core.language.ast import RuleSet
from stream.ops.kafka_security import KafkaSecurity
from stream.ops.metrics import Counters
from stream.ops.probe import require_broker
from stream.ops.report import start_line
from stream.settings import Settings

log = logging.getLogger(__name__)

# Objects allocated between two young-generation collections (CPython's default: 700).
YOUNG_GC_THRESHOLD = 50_000


def policy_for(settings: Settings) -> Policy:
    """How the worker treats time and doubtful input, from its settings."""
    return Policy(
        clock=settings.clock,
        future_tolerance_us=settings.future_tolerance_us(),
        max_message_bytes=settings.max_message_bytes,
        rekey_mismatched=settings.key_mismatch == "repartition",
        limits=settings.limits(),
        max_state_bytes=settings.max_state_bytes,
        stop_on_processing_error=settings.on_processing_error == "stop",
    )


def build(
    settings: Settings, rules: RuleSet, *, status_path: Path | None = None
) -> tuple[WorkerApp, Runtime, Heartbeat, Follower]:
    """The worker's app, runtime, progress heartbeat and definitions follower on the real
    ports, not started; the --rules file is published first if the topic does not hold it."""
    wapp = create_app(settings)
    horizon_us = int(settings.dedupe_horizon.total_seconds() * 1_000_000)
    metrics = Counters()

    def make(ruleset: RuleSet) -> Engine:
        return Engine(ruleset, horizon_us=horizon_us, limits=settings.limits())

    versions = Versions(make(rules), make, metrics)
    security = KafkaSecurity.of(settings)
    bootstrap, topic = settings.bootstrap_servers(), settings.definitions_topic
    follow_from = asyncio.run(
        definitions_at_start(bootstrap, security, topic, rules, settings.rules_file, versions)
    )
    engine = versions.in_force
    store = table_store(wapp.table)
    source = f"urn:segstream:{settings.app_id}"
    assignment = Assignment(wapp.app, wapp.topics.events)
    progress = Progress(
        FaustSource(wapp.app, assignment),
        topics=(wapp.topics.events, wapp.topics.repartition),
        every_s=settings.progress_interval.total_seconds(),
    )
    runtime = Runtime(
        engine,
        policy_for(settings),
        store=store,
        sink=KafkaSink(
            wapp.app,
            wapp.table,
            store,
            wapp.topics,
            source=source,
            clock=wall_us,
            dead_letter_bytes=settings.max_dead_letter_bytes,
        ),
        clock=wall_us,
        metrics=metrics,
        fail=stop_now,
        assignment=assignment,
        outputs=OutputTopics(wapp.outputs),
        status_path=status_path,
        progress=progress,
        place=versions.place,
    )
    install(wapp, runtime, settings.batch_size, settings.batch_wait.total_seconds())
    if settings.web_port > 0:
        install_web(wapp, runtime, metrics, versions, settings.bootstrap_servers(), security)
    follows = follower(settings, runtime, versions, follow_from, lambda: wapp.app.should_stop)
    return wapp, runtime, heartbeat(runtime, progress), follows


def follower(
    settings: Settings,
    runtime: Runtime,
    versions: Versions,
    start: int,
    stopping: Callable[[], bool],
) -> Follower:
    """The service that follows the definitions topic from offset `start`."""
    security = KafkaSecurity.of(settings)
    bootstrap, topic = settings.bootstrap_servers(), settings.definitions_topic
    inputs = [settings.events_topic, repartition_topic(settings)]

    def open_input(partition: int) -> PartitionInput:
        return PartitionInput(
            bootstrap, security, inputs, partition, committed_only=settings.exactly_once
        )

    async def announce(records: list[Switch]) -> None:
        await publish_all(bootstrap, topic, records, security)

    switcher = Switcher(runtime, open_input, versions, stopping)
    feed = DefinitionsFeed(bootstrap, security, topic, start)
    return Follower(runtime, versions, feed, switcher, announce, settings.app_id, stopping)


def heartbeat(runtime: Runtime, progress: Progress) -> Heartbeat:
    """The service that ticks the progress lines with the runtime's counts."""

    def beat() -> None:
        changes_out = runtime.metrics.snapshot().get("changes_out", 0)
        loaded = runtime.partitions.loaded()
        progress.tick(time.monotonic(), wall_us() / 1_000_000, loaded, changes_out)

    return Heartbeat(beat)


def run_worker(settings: Settings, rules: RuleSet, *, status_path: Path | None = None) -> None:
    """Run the worker until SIGINT or SIGTERM (Faust's worker handles both gracefully).

    Raises `Unreachable` when the broker does not answer within the connect timeout, before
    anything else connects: a refused connection makes aiokafka log an error and Faust a
    traceback, and a broker that accepts connections but does not answer holds aiokafka for
    its 40 s request timeout.
    """
    logs.configure(settings.loglevel)
    try:
        check_versions()
    except UntestedVersion as error:
        sys.exit(f"error: {error}")
    security = KafkaSecurity.of(settings)
    timeout = settings.connect_timeout.total_seconds()
    require_broker(settings.bootstrap_servers(), timeout, security)
    log.info(start_line(settings, rules))
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    wapp, _, beating, following = build(settings, rules, status_path=status_path)
    if settings.exactly_once:
        # The local store may hold writes of a transaction that was aborted by a crash;
        # restore from the changelog, which Faust reads committed-only in this mode.
        shutil.rmtree(wapp.app.conf.tabledir, ignore_errors=True)
    # Faust only declares some of its topics and skips a missing source topic; create them all
    # first, so that every one has the configured partitions and co-partitioning holds.
    topics = wapp.topics
    names = [topics.events, topics.repartition, topics.changes, topics.dead_letters]
    asyncio.run(ensure_topics(settings.bootstrap_servers(), names, settings.partitions, security))
    tune_gc()
    faust_worker(wapp.app, settings.loglevel, beating, following).execute_from_commandline()


def tune_gc() -> None:
    """Collect cyclic garbage less often than CPython's default.

    Every event allocates a few dozen short-lived objects, so the default young-generation
    threshold runs a collection every few events, and every tenth of those also walks the
    older generation, which holds the cached contact states. A higher threshold makes the
    backfill measurably faster (docs/worker.md has the figure); reference counting still
    frees nearly everything at once, so memory stays the same.
    """
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GC_THRESHOLD, middle, old)


def faust_worker(app: faust.App, loglevel: str, *services: Service) -> faust.Worker:
    """Faust's worker for `app` and `services`, logging as `stream.logs` says, without its
    terminal spinner.

    Faust's own logging set-up is off: it would show its start-up and rebalance chatter at
    `info` (about a hundred lines), and at `warning` or above it hangs a spinner on the root
    logger and sets the root level to DEBUG, so every `log.debug` in aiokafka and Faust (one
    per message sent) builds a log record, a sizeable share of the worker's CPU (measured:
    docs/worker.md, Faust pitfalls). The root handler gets the `retry_log` filter.
    """
    logs.configure(loglevel)
    for handler in logging.getLogger().handlers:
        if RETRIES not in handler.filters:
            handler.addFilter(RETRIES)
    quiet = loglevel != "debug"
    worker = faust.Worker(app, *services, loglevel=loglevel, quiet=quiet, override_logging=False)
    worker.spinner = None
    return worker
