"""The worker's per-partition processing survives a crash at any point of a batch's writes.

Pure (no broker): `Partition` over the in-memory store, with crashes injected between the
steps the sink performs: before publishing, after publishing, and after any prefix of the
table writes. Whatever happens, the changes a consumer keeps (dropping repeated `seq`) equal
replay's, a repeated change is identical to the first one, and the counters say exactly how
every record ended, as replay's do: the stream holds duplicates, invalid lines and events
past a low state limit.
"""

from __future__ import annotations

import orjson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from stream.app.processor import Effects, Partition, Policy, Record
from stream.core.changes import Change
from stream.core.evaluation.engine import Engine
from stream.core.evaluation.state_limit import StateLimit
from stream.core.language.loader import load_file
from stream.core.replay import Counts, Replayer, replay_lines
from stream.testing.fakes import MemoryStore
from stream.testing.generate import generate
from tests.support import EXAMPLE_RULES
from tests.support.changes import by_contact, drop_repeats

RULES = load_file(EXAMPLE_RULES)
ENGINE = Engine(RULES)
STATE_BYTES = 1500  # some 60 of the events would take their contact past it
LINES = [orjson.dumps(e) for e in generate(25, 400, seed=4, days=40.0, duplicate_rate=0.1)]
LINES[::37] = [b"{not json"] * len(LINES[::37])
EXPECTED_COUNTS = Counts()
EXPECTED = by_contact(
    replay_lines(
        RULES,
        LINES,
        replayer=Replayer(ENGINE, limit=StateLimit(ENGINE, STATE_BYTES), counts=EXPECTED_COUNTS),
    )
)
RECORDS = [
    Record("events", 0, offset, b"c" if line.startswith(b"{not") else
           orjson.loads(line)["contact_id"].encode(), line)
    for offset, line in enumerate(LINES)
]  # fmt: skip
POLICY = Policy(clock="event", max_state_bytes=STATE_BYTES)


def _never() -> int:
    raise AssertionError("the event clock must not read the wall clock")


def _run(batches: list[int], crashes: list[tuple[int, int]]) -> tuple[list[Change], Counts]:
    """Process RECORDS in batches; `crashes` maps a batch number to a crash point."""
    engine = Engine(RULES)
    store = MemoryStore()
    published: list[Change] = []
    committed = 0  # the input offset Faust would have committed
    crash_at = dict(crashes)
    part = Partition(0, engine, store, POLICY)
    batch_no = 0
    while committed < len(RECORDS):
        size = batches[batch_no % len(batches)]
        batch = RECORDS[committed : committed + size]
        effects = Effects()
        for record in batch:
            part.handle(record, _never, effects)
        now = part.now(_never)
        if now is not None:
            part.sweep(now, effects)
        writes = part.take_writes()
        point = crash_at.pop(batch_no, None)
        batch_no += 1
        if point is not None and point < 0:  # crash before anything was published
            part = Partition(0, engine, store, POLICY)
            continue
        published.extend(effects.changes)
        if point is not None:  # crash after publishing and `point` table writes
            store.write(0, writes[: min(point, len(writes))])
            part = Partition(0, engine, store, POLICY)
            continue
        store.write(0, writes)
        committed += len(batch)
    return published, part.counts


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Found by hypothesis: the crash keeps a state a deadline rewrote, whose contact's record
# earlier in that batch went past the state limit; redelivered, it must not be applied.
@example(batches=[1, 26, 60, 39, 60], crashes=[(7, 9)])
@given(
    batches=st.lists(st.integers(1, 60), min_size=1, max_size=5),
    crashes=st.lists(st.tuples(st.integers(0, 40), st.integers(-1, 200)), max_size=6),
)
def test_crash_anywhere_in_a_batch_loses_nothing(
    batches: list[int], crashes: list[tuple[int, int]]
) -> None:
    published, counts = _run(batches, crashes)
    first: dict[tuple[str, int], Change] = {}
    for change in published:
        assert first.setdefault((change.contact_id, change.seq), change) == change
    assert drop_repeats(published) == EXPECTED
    assert (counts.applied, counts.duplicate, counts.dead_lettered) == (
        EXPECTED_COUNTS.applied, EXPECTED_COUNTS.duplicate, EXPECTED_COUNTS.invalid
    )  # fmt: skip


def test_without_crashes_it_equals_replay_exactly() -> None:
    published, counts = _run([37], [])
    assert by_contact(published) == EXPECTED
    assert counts.duplicate > 10 and counts.dead_lettered > 50
