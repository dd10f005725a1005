"""Start a worker in this process: build the app, wire the agent, run until a signal."""

from __future__ import annotations

import asyncio
import gc
import logging
import shutil
import sys
from pathlib import Path

import faust

from stream.app.admin import ensure_topics
from stream.app.agent import install, stop_now
from stream.app.assignment import Assignment
from stream.app.clock import wall_us
from stream.app.factory import WorkerApp, create_app
from stream.app.faust_private import UntestedVersion, check_versions
from stream.app.processor import Policy
from stream.app.runtime import Runtime
from stream.app.sink import KafkaSink
from stream.app.store import table_store
from stream.app.topics import OutputTopics
from stream.app.web import install_web
from stream.core.evaluation.engine import Engine
from stream.core.language.ast import RuleSet
from stream.ops.metrics import Counters
from stream.settings import Settings

# Objects allocated between two young-generation collections (CPython's default: 700).
YOUNG_GC_THRESHOLD = 50_000


def policy_for(settings: Settings) -> Policy:
    """How the worker treats time and doubtful input, from its settings."""
    return Policy(
        clock=settings.clock,
        future_tolerance_us=int(settings.future_tolerance.total_seconds() * 1_000_000),
        max_message_bytes=settings.max_message_bytes,
        rekey_mismatched=settings.key_mismatch == "repartition",
    )


def build(
    settings: Settings, rules: RuleSet, *, status_path: Path | None = None
) -> tuple[WorkerApp, Runtime]:
    """The worker's app and runtime on the real ports, not started."""
    wapp = create_app(settings)
    horizon_us = int(settings.dedupe_horizon.total_seconds() * 1_000_000)
    engine = Engine(rules, horizon_us=horizon_us)
    store = table_store(wapp.table)
    source = f"urn:segstream:{settings.app_id}"
    metrics = Counters()
    runtime = Runtime(
        engine,
        policy_for(settings),
        store=store,
        sink=KafkaSink(wapp.app, wapp.table, store, wapp.topics, source=source, clock=wall_us),
        clock=wall_us,
        metrics=metrics,
        fail=stop_now,
        assignment=Assignment(wapp.app, wapp.topics.events),
        outputs=OutputTopics(wapp.outputs),
        status_path=status_path,
    )
    install(wapp, runtime, settings.batch_size, settings.batch_wait.total_seconds())
    if settings.web_port > 0:
        install_web(wapp, runtime, metrics, rules, settings.bootstrap_servers())
    return wapp, runtime


def run_worker(
    settings: Settings, rules: RuleSet, *, status_path: Path | None = None, loglevel: str = "info"
) -> None:
    """Run the worker until SIGINT or SIGTERM (Faust's worker handles both gracefully)."""
    try:
        check_versions()
    except UntestedVersion as error:
        sys.exit(f"error: {error}")
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    wapp, _ = build(settings, rules, status_path=status_path)
    if settings.exactly_once:
        # The local store may hold writes of a transaction that was aborted by a crash;
        # restore from the changelog, which Faust reads committed-only in this mode.
        shutil.rmtree(wapp.app.conf.tabledir, ignore_errors=True)
    # Faust only declares some of its topics and skips a missing source topic; create them all
    # first, so that every one has the configured partitions and co-partitioning holds.
    topics = wapp.topics
    names = [topics.events, topics.repartition, topics.changes, topics.dead_letters]
    asyncio.run(ensure_topics(settings.bootstrap_servers(), names, settings.partitions))
    logging.getLogger("stream").setLevel(loglevel.upper())
    tune_gc()
    faust_worker(wapp.app, loglevel).execute_from_commandline()


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


def faust_worker(app: faust.App, loglevel: str) -> faust.Worker:
    """Faust's worker for `app`, without its terminal spinner.

    At `warning` or above Faust hangs a spinner on the root logger and sets the root level to
    DEBUG, so every `log.debug` in aiokafka and Faust (one per message sent) builds a log
    record, a sizeable share of the worker's CPU (measured: docs/worker.md, Faust pitfalls).
    """
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.spinner = None
    return worker
