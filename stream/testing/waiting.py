"""Wait for a condition with a deadline, instead of sleeping a fixed time."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T], timeout: float, interval: float = 0.05, what: str = ""
) -> T:
    """Call `predicate` until it returns something truthy and return that.

    Raise TimeoutError naming `what` if `timeout` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(_message(what or _name(predicate), timeout))
        time.sleep(interval)


def wait_for_progress(
    progress: Callable[[], int], target: int, stall: float, interval: float = 0.1, what: str = ""
) -> int:
    """Call `progress` until it reaches `target` and return it, however long that takes.

    Raise TimeoutError naming `what` once it has not changed for `stall` seconds.
    """
    last, since = None, time.monotonic()
    while (done := progress()) < target:
        now = time.monotonic()
        if done != last:
            last, since = done, now
        elif now - since >= stall:
            raise TimeoutError(
                f"{what or _name(progress)}: stuck at {done} of {target} for {stall:g} s"
            )
        time.sleep(interval)
    return done


async def wait_for_async(
    predicate: Callable[[], T | Awaitable[T]],
    timeout: float,
    interval: float = 0.05,
    what: str = "",
) -> T:
    """Like `wait_for`, without blocking the event loop; `predicate` may be a coroutine function."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(_message(what or _name(predicate), timeout))
        await asyncio.sleep(interval)


def _name(predicate: Callable[..., object]) -> str:
    return getattr(predicate, "__qualname__", repr(predicate))


def _message(what: str, timeout: float) -> str:
    return f"gave up after {timeout:g} s waiting for {what}"
