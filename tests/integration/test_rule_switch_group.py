"""Two workers in a group switch every partition; a rebalance during a rebuild completes it on
the new owner."""

from __future__ import annotations

import re
from pathlib import Path

import orjson

from stream.core.language.loader import load_file
from stream.testing.generate import generate
from stream.testing.waiting import wait_for
from stream.testing.worker import Names
from tests.e2e.harness import WorkerProcess, changes_of, read_topic
from tests.support import EXAMPLE_RULES
from tests.support.switching import (
    assert_switched,
    every_switch,
    fold,
    lines_of,
    publish_file,
    replayed,
    unique,
    version_b,
    worker_on,
)

PARTITIONS = 8  # four rebuilds a worker, one after another: the first leaves mid-way


def test_a_rebalance_during_a_rebuild_completes_it_on_the_new_owner(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    old, (new_file, new) = load_file(EXAMPLE_RULES), version_b(tmp_path)
    lines = [orjson.dumps(e) for e in generate(3000, 60_000, seed=9, days=30.0)]
    names = Names(unique_name)
    second = WorkerProcess(
        kafka_bootstrap, EXAMPLE_RULES, names, tmp_path, partitions=PARTITIONS, tag="b"
    )
    with worker_on(kafka_bootstrap, names, lines, tmp_path, PARTITIONS, tag="a") as first:
        second.start()
        try:
            wait_for(
                lambda: _owned(first) and _owned(second)
                and _owned(first) | _owned(second) == set(range(PARTITIONS))
                and not _owned(first) & _owned(second),
                120, what="the group shared out every partition",
            )  # fmt: skip
            left = _owned(first)
            publish_file(kafka_bootstrap, new_file, names.definitions)
            wait_for(lambda: ": rebuilding for version" in first.log_text(), 60, what="a rebuild")
            # The first worker leaves the group while it rebuilds: the second owns its
            # partitions next, and must rebuild and switch those the first had not switched.
            assert first.stop() == 0, first.log_text()[-4000:]
            switched = every_switch(kafka_bootstrap, names, new.version_hash, PARTITIONS, 240)
            expected = {
                c: v
                for p in range(PARTITIONS)
                for c, v in replayed(new, lines_of(lines, p, PARTITIONS), switched[p].at).items()
            }
            records = read_topic(
                kafka_bootstrap, names.changes,
                lambda rs: fold(unique(changes_of(rs))) == expected, timeout=60,
            )  # fmt: skip
        finally:
            if second.alive():
                second.stop()
    by_first = _switched_in(first)
    assert left - by_first, f"the first worker switched all of {sorted(left)} before it left"
    assert left - by_first <= _switched_in(second)  # the new owner completed them
    assert_switched(changes_of(records), lines, switched, old, new, PARTITIONS)
    for worker in (first, second):
        worker.assert_healthy()


def _owned(worker: WorkerProcess) -> set[int]:
    """The input partitions of the worker's latest assignment, from its log line."""
    found = re.findall(r"assigned partitions ([0-9, -]*) of \S+-events", worker.log_text())
    owned: set[int] = set()
    for span in found[-1].split(", ") if found and found[-1] else []:
        low, _, high = span.partition("-")
        owned.update(range(int(low), int(high or low) + 1))
    return owned


def _switched_in(worker: WorkerProcess) -> set[int]:
    return {int(p) for p in re.findall(r"partition (\d+) switched to version", worker.log_text())}
