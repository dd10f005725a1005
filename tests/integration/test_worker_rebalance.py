"""Workers joining and leaving mid-stream lose nothing: changes equal replay's, seq has no gap."""

from __future__ import annotations

from pathlib import Path

import orjson

from stream.core.language.loader import load_file
from stream.core.replay import replay_lines
from stream.core.timefmt import parse_ts
from stream.ops.status import handled
from stream.testing.generate import generate
from stream.testing.waiting import wait_for, wait_for_progress
from tests.e2e.harness import (
    Names,
    WorkerProcess,
    changes_of,
    closing_events,
    counts_total,
    produce,
    read_topic,
)
from tests.support import EXAMPLE_RULES
from tests.support.changes import by_contact, drop_repeats

PARTITIONS = 6


def test_join_and_leave_mid_stream(kafka_bootstrap: str, unique_name: str, tmp_path: Path) -> None:
    events = [orjson.dumps(e) for e in generate(1500, 15000, seed=9, days=60.0)]
    last = max(parse_ts(orjson.loads(line)["timestamp"]) for line in events)
    lines = events + closing_events(PARTITIONS, last)
    expected = list(replay_lines(load_file(EXAMPLE_RULES), lines))
    names = Names(unique_name)
    produce(kafka_bootstrap, names.events, lines, PARTITIONS)

    def worker(tag: str) -> WorkerProcess:
        return WorkerProcess(
            kafka_bootstrap, EXAMPLE_RULES, names, tmp_path, partitions=PARTITIONS, clock="event",
            extra=["--batch-size", "300"], tag=tag,
        )  # fmt: skip

    workers = [worker("a").start(), worker("b").start()]

    def handled_so_far() -> int:
        return handled(counts_total(w.status() for w in workers))

    try:
        wait_for(lambda: handled_so_far() >= len(lines) * 0.3, timeout=120, what="30% handled")
        workers.append(worker("c").start())  # a third joins
        wait_for(lambda: handled_so_far() >= len(lines) * 0.6, timeout=120, what="60% handled")
        workers[0].stop()  # one leaves
        wait_for_progress(handled_so_far, len(lines), stall=30, what="events handled")
        records = read_topic(
            kafka_bootstrap,
            names.changes,
            lambda rs: sum(map(len, drop_repeats(changes_of(rs)).values())) >= len(expected),
            timeout=120,
            settle=1.0,
        )
    finally:
        for w in workers:
            if w.alive():
                w.stop()
    for w in workers:
        w.assert_healthy()
    kept = drop_repeats(changes_of(records))
    for contact, mine in kept.items():
        assert [c.seq for c in mine] == list(range(1, len(mine) + 1)), contact
    assert kept == by_contact(expected)
    assert all(w.starts == 1 for w in workers)
