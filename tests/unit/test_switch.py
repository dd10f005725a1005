"""A switch to a new version: its `reason: rules` messages are exactly the difference."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import orjson
import pytest

from stream.core.changes import Change
from stream.core.evaluation.engine import Engine
from stream.core.events import decode_event
from stream.core.language.loader import load_text
from stream.core.replay import Replayer
from stream.core.switch import carry_over, switch_contact
from stream.core.timefmt import format_ts, parse_ts
from stream.testing.generate import generate
from stream.testing.versions import version_b_text
from tests.support import DAY, EXAMPLE_RULES
from tests.support.switching import fold

OLD_TEXT = EXAMPLE_RULES.read_text()


def _new_text() -> str:
    return version_b_text(OLD_TEXT)


def _feed(replayer: Replayer, lines: list[bytes]) -> list[Change]:
    out: list[Change] = []
    for line in lines:
        out.extend(replayer.feed(decode_event(line)))
    return out


def _state_view(engine: Engine, replayer: Replayer) -> dict[str, tuple[frozenset[str], Any]]:
    stages = engine.plan.stages
    return {
        c: (frozenset(s.members), None if s.stage is None else stages[s.stage])
        for c, s in replayer.states.items()
        if s.members or s.stage is not None
    }


@pytest.mark.parametrize("cut", [0.3, 0.7])
def test_a_switch_publishes_the_difference_and_then_runs_as_the_new_version(cut: float) -> None:
    old_rules, new_rules = load_text(OLD_TEXT), load_text(_new_text())
    lines = [orjson.dumps(e) for e in generate(300, 8000, seed=13)]
    k = int(len(lines) * cut)
    old, new = Engine(old_rules, horizon_us=DAY), Engine(new_rules, horizon_us=DAY)
    live = Replayer(old)
    before = _feed(live, lines[:k])
    rebuilt = Replayer(Engine(new_rules, horizon_us=DAY))
    _feed(rebuilt, lines[:k])
    assert live.now is not None
    switch_at = live.now
    rebuilt.advance(switch_at)

    switched: list[Change] = []
    for contact in sorted(live.states.keys() | rebuilt.states.keys()):
        switched.extend(
            switch_contact(old, new, live.states.get(contact), rebuilt.states[contact], switch_at)
        )
    assert switched, "the new version changes some memberships"
    assert {c.reason for c in switched} == {"rules"}
    assert {c.cause_event_id for c in switched} == {None}
    assert {parse_ts(c.at) for c in switched} == {switch_at}
    assert {c.rules_version for c in switched} == {new_rules.version_hash}
    assert {c.rules_version for c in before} <= {old_rules.version_hash}
    # After the switch, the memberships are those of the history replayed under the new version.
    folded = fold(before + switched)
    assert folded == _state_view(new, rebuilt)
    kinds = {c.kind for c in switched}
    assert kinds == {"segment", "lifecycle"}
    assert any(c.kind == "segment" and c.segment == "content_bingers" for c in switched)

    # Then the new version goes on from the rebuilt states: what a whole replay under it
    # publishes after the switch instant, each contact's seq shifted by a constant.
    after = _feed(rebuilt, lines[k:]) + rebuilt.advance(rebuilt.now or switch_at)
    whole = Replayer(Engine(new_rules, horizon_us=DAY))
    reference = [c for c in _feed(whole, lines) if parse_ts(c.at) > switch_at]
    reference += whole.advance(whole.now or switch_at)
    assert [_without_seq(c) for c in after] == [_without_seq(c) for c in reference]
    shifts = {(c.contact_id, a.seq - c.seq) for a, c in zip(after, reference, strict=True)}
    assert len({contact for contact, _ in shifts}) == len(shifts)

    # seq rises by one per contact over old, switch and new messages alike.
    seen: dict[str, int] = defaultdict(int)
    for change in before + switched + after:
        assert change.seq == seen[change.contact_id] + 1, change
        seen[change.contact_id] = change.seq


def _without_seq(change: Change) -> tuple[Any, ...]:
    return tuple(change._replace(seq=0))


# A stage the new version adds, reached on a segment it narrows: carried over, the contact's
# deadlines between its last event and the switch fire on the new version's memberships.
_STAGED = """
version: 1
lifecycle:
  stages: [lead, hot]
  allow_regress: false
  rules:
    - {stage: lead, when: {event: signup}}
%s
segments:
  - id: pricing
    when: {event: page_view, within: %s}
  - id: recent
    when: {event: email_open, within: 5d}
"""
_HOT = "    - {stage: hot, when: {all: [{in_segment: pricing}, {not: {in_segment: recent}}]}}"


def test_a_contact_carried_over_evaluates_its_deadlines_under_the_new_version() -> None:
    old = Engine(load_text(_STAGED % ("", "7d")))
    new = Engine(load_text(_STAGED % (_HOT, "3d")))
    start = parse_ts("2026-01-01T00:00:00Z")
    events = [
        (0, "signup"), (0, "email_open"), (0, "page_view"), (4 * DAY, "ping"),
    ]  # fmt: skip
    lines = [
        orjson.dumps({"event_id": f"e{i}", "contact_id": "c", "type": kind,
                      "timestamp": format_ts(start + offset)})
        for i, (offset, kind) in enumerate(events)
    ]  # fmt: skip
    now = start + 10 * DAY
    live = Replayer(old)
    _feed(live, lines)
    # Under the old version at its last event: lead, in both segments.
    state = old.restore(old.snapshot(live.states["c"]), "c")
    assert (state.members, old.plan.stages[state.stage or 0]) == ({"pricing", "recent"}, "lead")

    carried = carry_over(old, new, state, now)
    whole = Replayer(new)
    _feed(whole, lines)
    whole.advance(now)
    # pricing (now 3 days) ended on day 3, before recent ended on day 5: never hot.
    assert _state_view(new, whole) == {"c": (frozenset(), "lead")}
    assert (carried.members, new.plan.stages[carried.stage or 0]) == (set(), "lead")
    changes = switch_contact(old, new, state, carried, now)
    assert [(c.kind, c.reason) for c in changes] == [("segment", "rules")] * 2
