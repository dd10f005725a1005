"""A partition's meta record and deadline index, as an earlier worker wrote them, still load."""

from __future__ import annotations

import orjson

from stream.app import keys
from stream.app.processor import Effects, Partition, Policy, Record
from stream.core.evaluation.engine import Engine
from stream.core.language.loader import load_text
from stream.core.timefmt import parse_ts
from stream.testing.fakes import MemoryStore

RULES = """
version: 1
segments:
  - id: recent_visitors
    when: {event: page_view, within: 1h}
"""
T0 = parse_ts("2026-11-20T10:00:00Z")
# Byte for byte what the worker stored before Counts was shared with replay.
OLD_META = (
    b'{"watermark":1795167000000000,'
    b'"counts":{"applied":3,"duplicate":1,"dead_lettered":2,"rekeyed":4},'
    b'"offsets":{"events":10}}'
)


def test_old_meta_loads_and_is_written_back_in_the_same_form() -> None:
    store = MemoryStore()
    store.write(0, [(keys.meta_key(0), OLD_META)])
    part = Partition(0, Engine(load_text(RULES, "rules.yaml")), store, Policy(clock="event"))
    counts = part.counts
    assert (counts.applied, counts.duplicate, counts.dead_lettered, counts.rekeyed) == (3, 1, 2, 4)
    event = {"event_id": "e1", "contact_id": "c1", "type": "page_view",
             "timestamp": "2026-11-20T10:00:00Z"}  # fmt: skip
    part.handle(Record("events", 0, 10, b"c1", orjson.dumps(event)), lambda: 0, Effects())
    meta = dict(part.take_writes())[keys.meta_key(0)]
    assert meta == OLD_META.replace(b'"applied":3', b'"applied":4').replace(
        b'"events":10', b'"events":11'
    ).replace(b"1795167000000000", str(T0).encode())


def test_a_stale_index_entry_of_a_contact_with_no_state_is_removed_when_it_comes_due() -> None:
    store = MemoryStore()
    stale = keys.deadline_key(0, T0, "gone")
    store.write(0, [(stale, b"1")])
    part = Partition(0, Engine(load_text(RULES, "rules.yaml")), store, Policy(clock="event"))
    assert part.pending_deadlines == 1 and part.next_deadline() == T0
    part.sweep(T0, Effects())
    assert part.take_writes()[:1] == [(stale, None)]


def test_the_switch_made_is_in_the_meta_and_loads_back() -> None:
    store = MemoryStore()
    engine = Engine(load_text(RULES, "rules.yaml"))
    part = Partition(0, engine, store, Policy(clock="event"))
    assert part.switched is None
    part.switch(engine, {}, T0, Effects())
    store.write(0, part.take_writes())
    made = {"rules_version": engine.rules_version, "at": T0}
    assert orjson.loads(store.get(0, keys.meta_key(0)) or b"")["switched"] == made
    again = Partition(0, engine, store, Policy(clock="event"))
    assert (again.switched, again.rules_version, again.switching) == (
        made, engine.rules_version, None
    )  # fmt: skip


def test_a_meta_without_a_switch_made_loads_with_none() -> None:
    store = MemoryStore()
    store.write(0, [(keys.meta_key(0), OLD_META)])
    part = Partition(0, Engine(load_text(RULES, "rules.yaml")), store, Policy(clock="event"))
    assert part.switched is None
    part.note_switched(T0)  # the switch of a partition with no input applied yet
    meta = dict(part.take_writes())[keys.meta_key(0)]
    assert meta is not None
    assert orjson.loads(meta)["switched"] == {"rules_version": part.engine.rules_version, "at": T0}
