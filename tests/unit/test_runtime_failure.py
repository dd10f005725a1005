"""A batch that cannot be made durable is never acknowledged, and the worker stops."""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest

from stream.app.agent import Runtime
from stream.app.processor import Effects, Policy
from stream.app.sink import PartitionBatch, TopicNames
from stream.core.engine import Engine
from stream.core.loader import load_text

RULES = "version: 1\nsegments:\n  - id: visitors\n    when: {event: page_view}\n"


class RefusingSink:
    async def commit(self, batches: Sequence[PartitionBatch]) -> None:
        raise ConnectionError("the broker refused the batch")


async def test_a_failed_flush_acks_nothing_and_stops_the_worker() -> None:
    topics = TopicNames("events", "events-repartition", "changes", "dlq", "state-changelog")
    wapp: Any = SimpleNamespace(app=None, table=SimpleNamespace(data={}), topics=topics)
    stopped: list[str] = []
    runtime = Runtime(
        wapp,
        Engine(load_text(RULES, "rules.yaml")),
        Policy(clock="event"),
        source="urn:test",
        fail=stopped.append,
    )
    runtime.sink = RefusingSink()  # type: ignore[assignment]
    acked: list[bool] = []

    async def acknowledge() -> None:
        acked.append(True)

    with pytest.raises(ConnectionError):
        await runtime._flush([(0, Effects(), [(b"k", b"v")])], acknowledge)
    assert acked == []
    assert stopped == ["making a batch durable failed"]
