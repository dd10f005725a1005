"""A partition's state cache while a batch's writes are still in flight to the store."""

from __future__ import annotations

import orjson

from stream.app.processor import Effects, Partition, Policy, Record
from stream.core.evaluation.engine import Engine
from stream.core.language.loader import load_text
from stream.testing.fakes import MemoryStore

RULES = """
version: 1
segments:
  - id: visitors
    when: {event: page_view}
  - id: regulars
    when: {event: page_view, count: {gte: 2}}
"""


def _record(offset: int, contact: str) -> Record:
    event = {
        "event_id": f"e-{offset}",
        "contact_id": contact,
        "type": "page_view",
        "timestamp": f"2026-11-20T10:00:{offset:02d}Z",
    }
    return Record("events", 0, offset, contact.encode(), orjson.dumps(event))


def test_states_written_by_a_batch_in_flight_stay_cached_for_the_next_batch() -> None:
    """The agent applies batch N+1 while batch N's writes travel to the broker; only then
    do they reach the local store. Evicting one of them would reload a stale state."""
    store = MemoryStore()
    part = Partition(0, Engine(load_text(RULES, "rules.yaml")), store, Policy(clock="event"))
    part.cache_size = 2
    first = Effects()
    for offset, contact in enumerate(["a", "b", "c", "d"]):
        part.handle(_record(offset, contact), lambda: 0, first)
    in_flight = part.take_writes()  # not yet in `store`: the flush has not completed

    second = Effects()
    for offset, contact in enumerate(["a", "b", "c", "d"], start=4):
        part.handle(_record(offset, contact), lambda: 0, second)

    assert in_flight
    assert [(c.contact_id, c.segment, c.seq) for c in second.changes] == [
        (contact, "regulars", 2) for contact in ["a", "b", "c", "d"]
    ]
