"""A batch that cannot be made durable is never acknowledged, and the worker stops."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from stream.app.assignment import Assignment
from stream.app.processor import Effects, Policy
from stream.app.runtime import Runtime
from stream.app.topics import OutputTopics, TopicNames
from stream.core.evaluation.engine import Engine
from stream.core.language.loader import load_text
from stream.ops.metrics import Counters
from stream.testing.fakes import FixedClock, MemoryStore, RecordingSink

RULES = "version: 1\nsegments:\n  - id: visitors\n    when: {event: page_view}\n"
TOPICS = TopicNames("events", "events-repartition", "changes", "dlq", "state-changelog")


def _runtime(store: MemoryStore, sink: RecordingSink, stopped: list[str]) -> Runtime:
    return Runtime(
        Engine(load_text(RULES, "rules.yaml")),
        Policy(clock="event"),
        store=store,
        sink=sink,
        clock=FixedClock(),
        metrics=Counters(),
        fail=stopped.append,
        assignment=Assignment(app=None, events_topic=TOPICS.events),
        outputs=OutputTopics(()),
    )


def _refusing_sink(store: MemoryStore) -> RecordingSink:
    sink = RecordingSink(store, TOPICS, source="urn:test", clock=FixedClock())
    sink.refuse = ConnectionError("the broker refused the batch")
    return sink


async def test_a_failed_flush_acks_nothing_and_stops_the_worker() -> None:
    store, stopped = MemoryStore(), []
    runtime = _runtime(store, _refusing_sink(store), stopped)
    acked: list[bool] = []

    async def acknowledge() -> None:
        acked.append(True)

    with pytest.raises(ConnectionError):
        await runtime.flusher.flush([(0, Effects(), [(b"k", b"v")])], acknowledge)
    assert acked == []
    assert stopped == ["making a batch durable failed"]


async def test_a_batch_whose_flush_fails_in_the_background_is_never_acknowledged() -> None:
    store, stopped = MemoryStore(), []
    runtime = _runtime(store, _refusing_sink(store), stopped)
    event = {
        "event_id": "e-1",
        "contact_id": "c-1",
        "type": "page_view",
        "timestamp": "2026-11-20T10:00:00Z",
    }
    message = SimpleNamespace(
        topic="events", partition=0, offset=0, key=b"c-1", value=orjson.dumps(event), timestamp=0.0
    )
    acked: list[bool] = []

    async def acknowledge() -> None:
        acked.append(True)

    events: list[Any] = [SimpleNamespace(message=message)]
    await runtime.process(events, acknowledge)  # applied; the flush runs in the background
    with pytest.raises(ConnectionError):
        await runtime.settle()
    assert acked == []
    assert stopped == ["making a batch durable failed"]
    assert store.data == {}  # no state written for what was never published
