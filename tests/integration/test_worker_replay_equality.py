"""With `--clock event`, the worker publishes exactly what `segstream replay` prints."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from stream.core.changes import SegmentChange
from stream.core.language.loader import load_file
from stream.core.replay import replay_lines
from stream.core.timefmt import parse_ts
from stream.testing.generate import generate
from tests.e2e.harness import (
    Names,
    WorkerProcess,
    changes_of,
    changes_until,
    closing_events,
    produce,
)
from tests.support import EXAMPLE_RULES
from tests.support.changes import by_contact


def _stream(partitions: int) -> list[bytes]:
    events = [orjson.dumps(e) for e in generate(400, 6000, seed=11, days=45.0)]
    last = max(parse_ts(orjson.loads(line)["timestamp"]) for line in events)
    # Replay's clock is global, a worker's is per partition: one last event per partition
    # brings every partition's clock to the end, so both fire the same deadlines.
    return events + closing_events(partitions, last)


@pytest.mark.parametrize("partitions", [1, 3])
def test_worker_equals_replay(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path, partitions: int
) -> None:
    lines = _stream(partitions)
    expected = list(replay_lines(load_file(EXAMPLE_RULES), lines))
    assert len(expected) > 1000  # the stream exercises the rules, time-driven changes included
    assert any(c.reason == "time" for c in expected)
    names = Names(unique_name)
    produce(kafka_bootstrap, names.events, lines, partitions)
    worker = WorkerProcess(
        kafka_bootstrap, EXAMPLE_RULES, names, tmp_path, partitions=partitions, clock="event"
    )
    records = changes_until(kafka_bootstrap, worker, names.changes, len(expected))
    worker.assert_healthy()
    assert by_contact(changes_of(records)) == by_contact(expected)
    for record, change in zip(records, changes_of(records), strict=True):
        headers = dict(record.headers)
        assert record.key == change.contact_id.encode()
        assert headers["ce_specversion"] == b"1.0"
        assert headers["ce_id"] == f"{change.contact_id}:{change.seq}".encode()
        assert headers["ce_subject"] == record.key
        assert headers["ce_time"] == change.at.encode()
        kind = (
            f"segment.{change.change}" if isinstance(change, SegmentChange) else "lifecycle.changed"
        )
        assert headers["ce_type"] == kind.encode()
