"""Which segments a short or cut history may undercount: every reason, and none."""

from __future__ import annotations

import pytest

from stream.core.language.loader import load_text
from stream.core.undercount import History, undercounted

DAY = 86_400_000_000
START = 1_790_000_000_000_000

RULES = load_text(
    """
version: 1
scores:
  - id: heat
    within: 30d
    rules:
      - {event: page_view, points: 1}
segments:
  - id: weekly
    when: {event: page_view, within: 7d}
  - id: monthly
    when: {event: page_view, within: 30d}
  - id: ever
    when: {event: purchase}
  - id: hot
    when: {score: heat, gte: 5}
  - id: monthly_buyers
    when: {all: [{in_segment: monthly}, {in_segment: ever}]}
  - id: profile
    when: {trait: plan, eq: pro}
""",
    "rules.yaml",
)

MONTH = "a window of 30d is longer than the history (10.0 days)"
ALL_TIME = "counts over all time, and retention has cut the history"


@pytest.mark.parametrize(
    ("days", "truncated", "expected"),
    [
        # A window longer than the span: directly, through a score, through a tested segment.
        (10, False, {"monthly": MONTH, "hot": MONTH, "monthly_buyers": MONTH}),
        # Retention cut the history: a count over all time may miss what it removed, and
        # that reason wins over a window's for a segment that has both.
        (10, True, {"monthly": MONTH, "ever": ALL_TIME, "hot": MONTH, "monthly_buyers": ALL_TIME}),
        # All of it retained: all time is whole; every window fits.
        (31, False, {}),
        (31, True, {"ever": ALL_TIME, "monthly_buyers": ALL_TIME}),
    ],
)
def test_segments_are_named_with_why(days: int, truncated: bool, expected: dict[str, str]) -> None:
    got = undercounted(RULES, History(START, START + days * DAY, truncated))
    assert got == expected
    assert list(got) == [s.id for s in RULES.segments if s.id in expected]  # the rules' order


def test_a_window_exactly_the_span_is_whole() -> None:
    assert "monthly" not in undercounted(RULES, History(START, START + 30 * DAY))
    assert "monthly" in undercounted(RULES, History(START, START + 30 * DAY - 1))


def test_the_span_is_shown_in_days_to_one_decimal() -> None:
    got = undercounted(RULES, History(START, START + 6 * DAY + DAY * 3 // 10))
    assert got["weekly"] == "a window of 1w is longer than the history (6.3 days)"


@pytest.mark.parametrize("truncated", [False, True])
def test_an_empty_history_names_nothing(truncated: bool) -> None:
    assert undercounted(RULES, History(None, None, truncated)) == {}
