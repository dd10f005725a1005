"""Stopping and starting a worker restores states and pending deadlines without reprocessing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson

from stream.core.language.loader import load_file
from stream.core.replay import replay_lines
from stream.core.timefmt import parse_ts
from stream.ops.status import handled_in
from stream.testing.generate import generate
from stream.testing.waiting import wait_for
from tests.e2e.harness import (
    Names,
    WorkerProcess,
    changes_of,
    closing_events,
    produce,
    read_topic,
)
from tests.support import EXAMPLE_RULES
from tests.support.changes import by_contact

PARTITIONS = 3


def _pending(status: dict[str, Any]) -> dict[str, int]:
    return {n: p["pending_deadlines"] for n, p in status["partitions"].items()}


def test_restart_restores_state_and_deadlines(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    events = [orjson.dumps(e) for e in generate(300, 4000, seed=5, days=30.0)]
    first, second = events[:2000], events[2000:]
    last = max(parse_ts(orjson.loads(line)["timestamp"]) for line in events)
    second += closing_events(PARTITIONS, last)
    expected = list(replay_lines(load_file(EXAMPLE_RULES), first + second))

    names = Names(unique_name)
    worker = WorkerProcess(
        kafka_bootstrap, EXAMPLE_RULES, names, tmp_path, partitions=PARTITIONS, clock="event"
    )
    produce(kafka_bootstrap, names.events, first, PARTITIONS)
    worker.start()
    worker.wait_ready()
    stopped = wait_for(
        lambda: handled_in(s := worker.status()) == len(first) and s, timeout=90, what="first half"
    )
    worker.stop()
    pending = _pending(stopped)
    assert sum(pending.values()) > 0  # windows still open when the worker stopped

    started = time.monotonic()
    worker.start()
    restored = wait_for(
        lambda: len((s := worker.status() or {"partitions": {}})["partitions"]) == PARTITIONS and s,
        timeout=90,
        what="every partition restored",
    )
    took = time.monotonic() - started
    print(f"restart to restored partitions: {took:.1f} s")
    assert _pending(restored) == pending  # the deadline index came back from the changelog
    assert handled_in(restored) == len(first)  # nothing was reprocessed

    produce(kafka_bootstrap, names.events, second, PARTITIONS)
    try:
        records = read_topic(
            kafka_bootstrap,
            names.changes,
            lambda rs: len(rs) >= len(expected),
            timeout=90,
            settle=1.0,
        )
    finally:
        worker.stop()
    worker.assert_healthy()
    # A clean stop commits everything: no change is published twice.
    assert by_contact(changes_of(records)) == by_contact(expected)
