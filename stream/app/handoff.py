"""Finishing a coroutine whose first step already ran inline, as its own task would have.

The consumer's fetch loop (`faust_private.Consumer._deliver`) runs the first step of each
hand-off to the streams itself; only a hand-off that has to wait is finished here, under
Faust's `wait_first`, so no task is created for the ones that need no waiting.
"""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from typing import Any


class _Suspend:
    """Suspends the awaiting task on what another coroutine yielded: a future, or None."""

    __slots__ = ("yielded",)

    def __init__(self, yielded: Any) -> None:
        self.yielded = yielded

    def __await__(self) -> Generator[Any, None, None]:
        yield self.yielded


async def finish(step: Coroutine[Any, Any, Any], yielded: Any) -> Any:
    """Run `step`, which has started and is suspended on `yielded`, to its end.

    This does for `step` what its own task would have: it waits on what `step` waits on,
    resumes it, and passes a cancellation of this task on to it.
    """
    while True:
        try:
            await _Suspend(yielded)
        except GeneratorExit:
            step.close()
            raise
        except BaseException as exc:  # this task was cancelled while `step` waited
            try:
                yielded = step.throw(exc)
            except StopIteration as stop:
                return stop.value
            continue
        try:
            yielded = step.send(None)
        except StopIteration as stop:
            return stop.value
