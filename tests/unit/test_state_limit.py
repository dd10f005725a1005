"""The state limit: its bound really bounds, an event past the limit changes nothing, and the
usual event costs no encoding."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.core.evaluation.engine import Engine
from stream.core.evaluation.state_limit import STATE_LIMIT, StateLimit
from stream.core.events import decode_event
from stream.core.language.loader import load_dict
from stream.core.replay import Replayer, replay_lines
from stream.errors import InvalidInput
from tests.support.hostile import RULE_SETS, messages
from tests.support.strategies import profile

DISTINCT = load_dict(
    {
        "version": 1,
        "segments": [
            {"id": "reader", "when": {"event": "content_download",
                                      "distinct": {"property": "content_id", "gte": 3}}},
            {"id": "recent", "when": {"event": "content_download", "within": "1d",
                                      "distinct": {"property": "content_id", "gte": 2}}},
        ],
    }
)  # fmt: skip


def _download(n: int, content: Any, second: int = 0) -> bytes:
    return orjson.dumps(
        {
            "event_id": f"e{n}",
            "contact_id": "c1",
            "type": "content_download",
            "timestamp": f"2026-11-20T10:{n // 60 % 60:02d}:{n % 60:02d}Z",
            "properties": {"content_id": content},
        }
    )


@given(
    batch=st.lists(messages(), min_size=1, max_size=25), rules=st.sampled_from(sorted(RULE_SETS))
)
@settings(profile(), max_examples=max(1, profile().max_examples // 3))
def test_an_event_adds_at_most_its_growth_and_time_at_most_the_room(
    batch: list[bytes | None], rules: str
) -> None:
    engine = Engine(RULE_SETS[rules])
    limit = StateLimit(engine, 1 << 40)
    replayer = Replayer(engine)
    for raw in batch:
        try:
            event = decode_event(raw)
        except InvalidInput:
            continue
        state = replayer.states.get(event.contact_id)
        before = len(engine.snapshot(state)) if state is not None else 0
        replayer.feed(event)  # fires every contact's deadlines up to the event first
        after = len(engine.snapshot(replayer.states[event.contact_id]))
        assert after <= max(before, 64) + limit.growth(event) + limit.room


def test_an_event_past_the_limit_is_rejected_and_changes_nothing() -> None:
    lines = [_download(n, f"{n:04d}" + "x" * 3000) for n in range(40)]
    changes = list(replay_lines(DISTINCT, lines))
    assert changes  # the contact entered both segments
    errors: list[tuple[int, InvalidInput]] = []
    limited = Replayer(Engine(DISTINCT), limit=StateLimit(Engine(DISTINCT), 30_000))
    kept = list(replay_lines(DISTINCT, lines, on_invalid=lambda n, e: errors.append((n, e)),
                             replayer=limited))  # fmt: skip
    assert errors and {e.reason for _, e in errors} == {STATE_LIMIT}
    first = errors[0][0]
    assert [n for n, _ in errors] == list(range(first, 41))  # every later one is too big too
    assert kept == list(replay_lines(DISTINCT, lines[: first - 1]))
    assert limited.now == decode_event(lines[first - 2]).ts  # rejected events move no clock
    state = limited.states["c1"]
    assert len(limited.engine.snapshot(state)) + limited.limit.room <= 30_000  # type: ignore[union-attr]
    # A small event still fits.
    list(replay_lines(DISTINCT, [_download(99, "short")], replayer=limited))
    assert limited.counts.applied == first


def test_the_first_event_of_a_contact_can_be_too_big_alone() -> None:
    engine = Engine(DISTINCT)
    limit = StateLimit(engine, 2_000)
    event = decode_event(_download(1, "x" * 4000))
    with pytest.raises(InvalidInput) as caught:
        limit.admit(None, event, event.ts)
    assert caught.value.reason == STATE_LIMIT and "2,000" in caught.value.detail


def test_far_from_the_limit_nothing_is_encoded(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = Engine(DISTINCT)
    limit = StateLimit(engine, 1_000_000)
    replayer = Replayer(engine, limit=limit)
    replayer.feed(decode_event(_download(0, "a")))

    def no_encoding(*_: Any) -> bytes:
        raise AssertionError("encoded a state far from the limit")

    monkeypatch.setattr(engine, "snapshot", no_encoding)
    for n in range(1, 200):
        replayer.feed(decode_event(_download(n, f"c{n}")))
    assert replayer.counts.applied == 200


def test_a_state_never_measured_is_measured_before_it_is_trusted() -> None:
    engine = Engine(DISTINCT)
    replayer = Replayer(engine)
    for n in range(8):
        replayer.feed(decode_event(_download(n, f"{n}" + "y" * 3000)))
    state = replayer.states["c1"]
    limit = StateLimit(engine, 20_000)  # knows nothing of the contact yet
    event = decode_event(_download(9, "z" * 3000))
    with pytest.raises(InvalidInput):
        limit.admit(state, event, event.ts)
