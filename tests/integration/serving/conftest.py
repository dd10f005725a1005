"""Serving tests: one worker run publishes the change topic that several tests materialise."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

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

PARTITIONS = 3


@dataclass(frozen=True)
class Published:
    """A change topic the worker wrote, and what `segstream replay` prints for the same input."""

    topic: str
    partitions: int
    replayed: list[dict[str, Any]]
    records: int  # messages on the topic (a worker may publish a change twice)
    segments: list[str]  # the rules' segment ids, in file order


@pytest.fixture(scope="session")
def published(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Published:
    """Generated events through a real worker with `--clock event`, published once."""
    events = [orjson.dumps(e) for e in generate(300, 4000, seed=13, days=45.0)]
    last = max(parse_ts(orjson.loads(line)["timestamp"]) for line in events)
    lines = events + closing_events(PARTITIONS, last)
    rules = load_file(EXAMPLE_RULES)
    replay_changes = list(replay_lines(rules, lines))
    replayed = [change.to_json() for change in replay_changes]
    names = Names(f"t-serving-{uuid.uuid4().hex[:8]}")
    produce(kafka_bootstrap, names.events, lines, PARTITIONS)
    workdir = tmp_path_factory.mktemp("serving-worker")
    worker = WorkerProcess(kafka_bootstrap, EXAMPLE_RULES, names, workdir, partitions=PARTITIONS)
    records = changes_until(kafka_bootstrap, worker, names.changes, len(replayed))
    # A fresh broker's first consumer group can log GroupCoordinatorNotAvailable before the
    # offsets topic exists (test_faust_wiring filters it the same way); nothing else may show.
    text = worker.log_text()
    errors = [ln for ln in text.splitlines() if "[ERROR]" in ln or "[CRITICAL]" in ln]
    assert "Traceback" not in text, text[-4000:]
    assert all("GroupCoordinatorNotAvailable" in ln for ln in errors), errors
    # What the serving tests compare with is replay's output; the worker must have published
    # exactly that (test_worker_replay_equality checks the same in more detail).
    assert by_contact(changes_of(records)) == by_contact(replay_changes)
    segments = [s.id for s in rules.segments]
    return Published(names.changes, PARTITIONS, replayed, len(records), segments)


@pytest.fixture(scope="session")
def redis_cluster_url() -> str:
    """URL of one node of the test Redis Cluster, from SEGSTREAM_REDIS_CLUSTER_URL."""
    value = os.environ.get("SEGSTREAM_REDIS_CLUSTER_URL")
    if value:
        return value
    message = "SEGSTREAM_REDIS_CLUSTER_URL is not set; run the tests with ./scripts/test"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (integration tests must not be skipped in CI)", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def namespace() -> str:
    """A Redis namespace no other test uses."""
    return f"t-{uuid.uuid4().hex[:10]}"
