"""The worker counts a re-sent old event as a duplicate, on the wall clock, stored or cached."""

from __future__ import annotations

import orjson
import pytest

from stream.app.processor import Effects, Partition, Policy, Record
from stream.core.evaluation.engine import Engine
from stream.core.language.loader import load_file
from stream.core.timefmt import format_ts, parse_ts
from stream.testing.fakes import MemoryStore
from tests.support import DAY, EXAMPLE_RULES, MINUTE

RULES = load_file(EXAMPLE_RULES)
WALL = parse_ts("2026-12-01T12:00:00Z")
MONTH_AGO = WALL - 30 * DAY


def _lines() -> list[bytes]:
    """100 events a month old, for 10 contacts, as a producer backfilling history sends them."""
    return [
        orjson.dumps(
            {
                "event_id": f"e-{n}",
                "contact_id": f"c-{n % 10}",
                "type": "email_open",
                "timestamp": format_ts(MONTH_AGO + n * MINUTE),
            }
        )
        for n in range(100)
    ]


def _send(part: Partition, lines: list[bytes], first_offset: int, wall: int) -> None:
    effects = Effects()
    for offset, line in enumerate(lines, start=first_offset):
        key = orjson.loads(line)["contact_id"].encode()
        part.handle(Record("events", 0, offset, key, line), lambda: wall, effects)
    part.sweep(wall, effects)


@pytest.mark.parametrize("reloaded", [False, True], ids=["cached", "reloaded from the table"])
@pytest.mark.parametrize(
    ("later", "duplicates"),
    [(MINUTE, 100), (DAY - MINUTE, 100), (DAY + MINUTE, 0)],
    ids=["a minute later", "a minute within the horizon", "a minute past it"],
)
def test_a_resent_backfill_counts_as_duplicates_for_a_horizon(
    later: int, duplicates: int, reloaded: bool
) -> None:
    engine = Engine(RULES)
    store = MemoryStore()
    part = Partition(0, engine, store, Policy(clock="wall"))
    lines = _lines()
    _send(part, lines, 0, WALL)
    store.write(0, part.take_writes())
    if reloaded:
        part = Partition(0, engine, store, Policy(clock="wall"))
    _send(part, lines, len(lines), WALL + later)
    assert (part.counts.applied, part.counts.duplicate) == (200 - duplicates, duplicates)
