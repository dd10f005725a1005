"""Waiting on a condition, and on a count that must keep moving until it reaches its target."""

from __future__ import annotations

import itertools

import pytest

from stream.testing.waiting import wait_for, wait_for_progress


def test_wait_for_returns_the_first_truthy_answer() -> None:
    answers = iter([0, None, "found"])
    assert wait_for(lambda: next(answers), 30, interval=0.001) == "found"


def test_wait_for_gives_up_naming_what_it_waited_for() -> None:
    with pytest.raises(TimeoutError, match=r"^gave up after 0\.05 s waiting for the answer$"):
        wait_for(lambda: False, 0.05, interval=0.01, what="the answer")


def test_progress_that_keeps_moving_is_waited_for_past_the_stall_time() -> None:
    counter = itertools.count()
    assert wait_for_progress(lambda: next(counter), 30, stall=0.01, interval=0.002) == 30


def test_progress_that_stops_short_gives_up_saying_where() -> None:
    counter = itertools.count()
    with pytest.raises(TimeoutError, match=r"^events handled: stuck at 3 of 10 for 0\.05 s$"):
        wait_for_progress(
            lambda: min(next(counter), 3), 10, stall=0.05, interval=0.01, what="events handled"
        )
