"""The consumer's direct hand-off of fetched records (stream.app.faust_private.Consumer._deliver).

It must behave as Faust's `wait_first(callback(message), suspend_flow.wait())` does: every
record is handed over in order, a hand-off that has to wait finishes when it can, one that
is still waiting when the flow is suspended is abandoned (and told so), and errors surface.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import mode
import pytest

from stream.app.faust_private import Consumer


class Handoff(mode.Service):
    """Just what `_deliver` uses of a Faust consumer: `wait_first` and `suspend_flow`."""

    _deliver = Consumer._deliver

    def __init__(self) -> None:
        super().__init__()
        self.suspend_flow = asyncio.Event()


async def until(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not predicate():
            await asyncio.sleep(0)


Callback = Callable[[Any], Coroutine[Any, Any, None]]


async def test_records_that_need_no_waiting_are_handed_over_in_order() -> None:
    handoff, got = Handoff(), []

    async def deliver(message: Any) -> None:
        got.append(message)

    for n in range(5):
        await handoff._deliver(deliver, n)
        assert got == list(range(n + 1))  # handed over before `_deliver` returned


async def test_a_hand_off_that_waits_for_room_finishes_when_there_is_room() -> None:
    handoff, queue = Handoff(), asyncio.Queue[int](maxsize=1)
    queue.put_nowait(0)
    deliver: Callback = queue.put
    pending = asyncio.create_task(handoff._deliver(deliver, 1))
    await asyncio.sleep(0)
    assert not pending.done()  # the queue is full: the hand-off waits
    assert queue.get_nowait() == 0
    await asyncio.wait_for(pending, 5)
    assert queue.get_nowait() == 1


async def test_a_waiting_hand_off_is_abandoned_when_the_flow_is_suspended() -> None:
    handoff, queue = Handoff(), asyncio.Queue[int](maxsize=1)
    queue.put_nowait(0)
    seen: list[str] = []

    async def deliver(message: int) -> None:
        try:
            await queue.put(message)
            seen.append("delivered")
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    pending = asyncio.create_task(handoff._deliver(deliver, 1))
    await asyncio.sleep(0)
    handoff.suspend_flow.set()
    await asyncio.wait_for(pending, 5)  # returns, as Faust's wait_first does
    await until(lambda: bool(seen))
    assert seen == ["cancelled"]
    assert queue.qsize() == 1 and queue.get_nowait() == 0


async def test_a_flow_suspended_before_the_hand_off_abandons_it_only_if_it_waits() -> None:
    handoff, got = Handoff(), []
    handoff.suspend_flow.set()

    async def deliver(message: int) -> None:
        got.append(message)

    await handoff._deliver(deliver, 7)  # Faust runs the first step of the callback too
    assert got == [7]


@pytest.mark.parametrize("waits_first", [False, True], ids=["at once", "after waiting"])
async def test_an_error_in_the_hand_off_reaches_the_fetch_loop(waits_first: bool) -> None:
    handoff = Handoff()

    async def deliver(message: int) -> None:
        if waits_first:
            await asyncio.sleep(0.001)
        raise ValueError(f"bad {message}")

    with pytest.raises(ValueError, match="bad 3"):
        await handoff._deliver(deliver, 3)
