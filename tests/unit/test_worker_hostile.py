"""Hostile records through the worker's own path (`Partition.handle`, no Kafka): never an
exception, every record applied, a duplicate, re-keyed or dead-lettered with a known reason,
and nothing written or published that Kafka would refuse.

The example count follows HYPOTHESIS_PROFILE (tests/support/strategies.py): `ci` by default,
`thorough` for a soak run outside CI.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from stream.app import failures
from stream.app.assignment import Assignment
from stream.app.outputs import outputs
from stream.app.processor import PROCESSING_ERROR, Effects, Partition, Policy, Record
from stream.app.runtime import Runtime
from stream.app.topics import OutputTopics, TopicNames
from stream.core.evaluation.engine import Engine
from stream.core.evaluation.state_limit import STATE_LIMIT
from stream.core.events import REASONS
from stream.core.language.loader import load_file
from stream.core.replay import replay_lines
from stream.ops.metrics import Counters
from stream.testing.fakes import MAX_RECORD_BYTES, FixedClock, MemoryStore, RecordingSink
from stream.testing.generate import generate
from tests.support import EXAMPLE_RULES
from tests.support.changes import by_contact
from tests.support.hostile import CONTACTS, RULE_SETS, messages
from tests.support.strategies import profile

NOW_US = 1_796_083_200 * 1_000_000  # 2026-12-01T00:00:00Z
HOUR_US = 3600 * 1_000_000
TOPICS = TopicNames("events", "events-repartition", "changes", "dlq", "state-changelog")
DEAD_LETTER_BYTES = 100_000
STATE_BYTES = 6_000  # low, so that hostile values reach it: two 4096-character ones do


def _filler(n: int) -> bytes:
    """A valid download of a long new content id: a few of them fill a contact's state."""
    return orjson.dumps(
        {"event_id": f"fill-{n}", "contact_id": "c1", "type": "content_download",
         "timestamp": "2026-11-20T10:00:00Z", "properties": {"content_id": f"{n}" + "z" * 4000}}
    )  # fmt: skip


MESSAGES = messages() | st.integers(0, 10**6).map(_filler)


def _key(raw: bytes | None, how: int) -> bytes | None:
    """The message's own contact id as key (most often), another one, or none."""
    if how == 1:
        return None
    if how == 2:
        return b"c2"
    try:
        contact = orjson.loads(raw or b"")["contact_id"]
        return contact.encode() if isinstance(contact, str) else b"c1"
    except (orjson.JSONDecodeError, KeyError, TypeError, UnicodeEncodeError):
        return b"c1"


@given(
    batch=st.lists(st.tuples(MESSAGES, st.sampled_from([0, 0, 0, 0, 1, 2])), max_size=25),
    cut=st.integers(0, 25),
    rules=st.sampled_from(sorted(RULE_SETS)),
    clock=st.sampled_from(["wall", "event"]),
)
@settings(profile(), max_examples=max(1, profile().max_examples // 2))
def test_no_record_stops_or_corrupts_a_partition(
    batch: list[tuple[bytes | None, int]], cut: int, rules: str, clock: str
) -> None:
    store = MemoryStore()
    engine = Engine(RULE_SETS[rules])
    policy = Policy(clock=clock, future_tolerance_us=HOUR_US, max_message_bytes=1_048_576,
                    max_state_bytes=STATE_BYTES)  # fmt: skip
    wall = FixedClock(NOW_US)
    records = [
        Record("events", 0, offset, _key(raw, how), raw) for offset, (raw, how) in enumerate(batch)
    ]
    part = Partition(0, engine, store, policy)
    reasons: list[str] = []
    for chunk in (records[:cut], records[cut:]):  # two batches, the second on a fresh load
        effects = Effects()
        for record in chunk:
            part.handle(record, wall, effects)
        now = part.now(wall)
        if now is not None:
            part.sweep(now + 400 * 24 * HOUR_US, effects)  # every deadline fires
        writes = part.take_writes()
        for key, value in writes:
            assert len(key) + len(value or b"") <= MAX_RECORD_BYTES
        for topic, key, value, _, _ in outputs(effects, TOPICS, "urn:test", NOW_US,
                                               DEAD_LETTER_BYTES):  # fmt: skip
            assert value is not None
            if topic == TOPICS.dead_letters:
                assert len(key or b"") + len(value) <= DEAD_LETTER_BYTES
                reasons.append(orjson.loads(value)["reason"])
        store.write(0, writes)
        part = Partition(0, engine, store, policy)
    event(f"applied: {min(part.counts.applied, 5)}{'+' if part.counts.applied >= 5 else ''}")
    for reason in reasons:
        event(f"dead-lettered: {reason}")
        assert reason in REASONS or reason == STATE_LIMIT
    counts = part.counts
    assert counts.applied + counts.duplicate + counts.dead_lettered + counts.rekeyed == len(batch)
    assert counts.dead_lettered == len(reasons)


RULES = load_file(EXAMPLE_RULES)
LINES = [orjson.dumps(e) for e in generate(20, 300, seed=7, days=10.0)]
BAD_EVENT = 150


def _records() -> list[Record]:
    return [
        Record("events", 0, offset, orjson.loads(line)["contact_id"].encode(), line)
        for offset, line in enumerate(LINES)
    ]


def _failing_engine(failures: list[str]) -> Engine:
    """An engine whose step raises half-way through one event, after changing the state."""
    engine = Engine(RULES)
    on_item = engine.on_item
    bad_id = orjson.loads(LINES[BAD_EVENT])["event_id"]

    def broken(state: Any, event: Any, at: int) -> Any:
        if event.event_id == bad_id:
            if state is not None:
                state.traits["title"] = "corrupted"
                state.seq += 5
            failures.append(event.event_id)
            raise ZeroDivisionError("division by zero")
        return on_item(state, event, at)

    engine.on_item = broken  # type: ignore[method-assign]
    return engine


def _run(part: Partition, records: list[Record], batch: int) -> Effects:
    store = part.store
    published = Effects()
    for start in range(0, len(records), batch):
        effects = Effects()
        for record in records[start : start + batch]:
            part.handle(record, FixedClock(NOW_US), effects)
        now = part.now(FixedClock(NOW_US))
        if now is not None:
            part.sweep(now, effects)
        store.write(0, part.take_writes())
        published.changes.extend(effects.changes)
        published.dead_letters.extend(effects.dead_letters)
    return published


@pytest.mark.allow_error_log
@pytest.mark.parametrize("batch", [1, 7, 300])
def test_an_event_that_raises_is_dead_lettered_and_changes_nothing(
    batch: int, caplog: pytest.LogCaptureFixture
) -> None:
    failures: list[str] = []
    part = Partition(0, _failing_engine(failures), MemoryStore(), Policy(clock="event"))
    with caplog.at_level(logging.ERROR, logger="stream.app.processor"):
        published = _run(part, _records(), batch)
    assert failures  # the failing step ran
    [dead] = published.dead_letters
    assert dead.reason == PROCESSING_ERROR and dead.record.offset == BAD_EVENT
    assert dead.detail.startswith("ZeroDivisionError: division by zero")
    without = LINES[:BAD_EVENT] + LINES[BAD_EVENT + 1 :]
    assert by_contact(published.changes) == by_contact(replay_lines(RULES, without))
    counts = part.counts
    assert counts.dead_lettered == 1
    assert counts.applied + counts.duplicate == len(LINES) - 1
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) <= 1


@pytest.mark.allow_error_log
def test_each_kind_of_unexpected_error_is_logged_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(failures, "_reported", set())
    raised: list[str] = []
    engine = _failing_engine(raised)
    records = _records()
    twice = [records[BAD_EVENT], Record("events", 0, 1, records[BAD_EVENT].key,
                                        records[BAD_EVENT].value)]  # fmt: skip
    with caplog.at_level(logging.ERROR, logger="stream.app.processor"):
        for number, record in enumerate(twice):
            part = Partition(number, engine, MemoryStore(), Policy(clock="event"))
            part.handle(record, FixedClock(NOW_US), Effects())
    assert len(raised) == 2
    logged = [r for r in caplog.records if "ZeroDivisionError" in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None


def test_stop_on_processing_error_raises_it() -> None:
    part = Partition(0, _failing_engine([]), MemoryStore(),
                     Policy(clock="event", stop_on_processing_error=True))  # fmt: skip
    with pytest.raises(ZeroDivisionError):
        _run(part, _records(), 300)


def test_tombstones_and_empty_values_are_dead_lettered_with_their_own_reasons() -> None:
    part = Partition(0, Engine(RULES), MemoryStore(), Policy(clock="event"))
    effects = Effects()
    for offset, value in enumerate([None, b"", b" \n", b"{}"]):
        part.handle(Record("events", 0, offset, b"c1", value), FixedClock(NOW_US), effects)
    assert [d.reason for d in effects.dead_letters] == [
        "tombstone", "empty", "empty", "missing_field"
    ]  # fmt: skip
    letters = outputs(effects, TOPICS, "urn:test", NOW_US)
    tombstone = orjson.loads(letters[0][2] or b"")
    assert tombstone["original"] is None and tombstone["original_sha256"] is None


@pytest.mark.parametrize("clock", ["wall", "event"])
def test_an_event_far_in_the_future_is_dead_lettered_and_moves_no_clock(clock: str) -> None:
    part = Partition(0, Engine(RULES), MemoryStore(),
                     Policy(clock=clock, future_tolerance_us=HOUR_US))  # fmt: skip
    effects = Effects()
    good = {"event_id": "e1", "contact_id": CONTACTS[0], "type": "page_view",
            "timestamp": "2026-11-30T10:00:00Z"}  # fmt: skip
    late = {**good, "event_id": "e2", "timestamp": "2999-12-31T23:59:59Z"}
    soon = {**good, "event_id": "e3", "timestamp": "2026-12-01T02:00:00Z"}
    for offset, body in enumerate([good, late, soon]):
        record = Record("events", 0, offset, CONTACTS[0].encode(), orjson.dumps(body))
        part.handle(record, FixedClock(NOW_US), effects)
    assert [d.reason for d in effects.dead_letters] == ["too_far_in_future"] * 2
    assert part.watermark == 1_796_032_800 * 1_000_000  # 2026-11-30T10:00:00Z


def _runtime(engine: Engine, policy: Policy, sink: RecordingSink, store: MemoryStore) -> Runtime:
    return Runtime(engine, policy, store=store, sink=sink, clock=FixedClock(NOW_US),
                   metrics=Counters(), fail=lambda what: None,
                   assignment=Assignment(app=None, events_topic=TOPICS.events),
                   outputs=OutputTopics(()))  # fmt: skip


def _batch(records: list[Record]) -> list[Any]:
    return [SimpleNamespace(message=r) for r in records]


async def _noop() -> None:
    return None


@pytest.mark.allow_error_log
async def test_the_worker_publishes_the_processing_error_and_goes_on() -> None:
    store = MemoryStore()
    sink = RecordingSink(store, TOPICS, source="urn:test", clock=FixedClock(NOW_US))
    runtime = _runtime(_failing_engine([]), Policy(clock="event"), sink, store)
    await runtime.process(_batch(_records()), _noop)
    await runtime.settle()
    [(_, key, value, _, _)] = sink.on(TOPICS.dead_letters)
    letter = orjson.loads(value or b"")
    assert letter["reason"] == PROCESSING_ERROR and letter["source"]["offset"] == BAD_EVENT
    assert key == _records()[BAD_EVENT].key


async def test_on_processing_error_stop_raises_out_of_the_batch() -> None:
    store = MemoryStore()
    sink = RecordingSink(store, TOPICS, source="urn:test", clock=FixedClock(NOW_US))
    policy = Policy(clock="event", stop_on_processing_error=True)
    runtime = _runtime(_failing_engine([]), policy, sink, store)
    with pytest.raises(ZeroDivisionError):  # the agent then stops the worker: exit 70
        await runtime.process(_batch(_records()), _noop)
    assert sink.published == []


@pytest.mark.allow_error_log
def test_a_new_contact_whose_first_event_fails_after_applying_is_not_kept() -> None:
    engine = Engine(RULES)
    real = engine.notify_at

    def broken(state: Any) -> Any:
        if state.contact_id == "newcomer":
            raise RuntimeError("deadline arithmetic failed")
        return real(state)

    engine.notify_at = broken  # type: ignore[method-assign]
    store = MemoryStore()
    part = Partition(0, engine, store, Policy(clock="event"))
    effects = Effects()
    body = {"event_id": "n1", "contact_id": "newcomer", "type": "page_view",
            "timestamp": "2026-11-20T10:00:00Z"}  # fmt: skip
    part.handle(Record("events", 0, 0, b"newcomer", orjson.dumps(body)), FixedClock(), effects)
    assert [d.reason for d in effects.dead_letters] == [PROCESSING_ERROR]
    assert effects.changes == []
    writes = dict(part.take_writes())
    assert not any(key.startswith(b"s") for key in writes)  # no state for it
    assert part.counts.dead_lettered == 1 and part.counts.applied == 0
