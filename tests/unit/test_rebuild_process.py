"""A rebuild in a child process gives what the same rebuild in the worker's process gives."""

from __future__ import annotations

import asyncio
import os

import orjson
import pytest

from stream.app.processor import Policy, Record
from stream.app.rebuild import Rebuild
from stream.app.rebuild_process import RebuildFailed, RebuildProcess
from stream.core.evaluation.engine import Engine
from stream.core.language.loader import load_text
from stream.testing.generate import generate
from stream.testing.versions import version_b_text
from tests.support import DAY

NEW = load_text(version_b_text())
LINES = [orjson.dumps(e) for e in generate(150, 4000, seed=29)]
RECORDS = [
    Record("events", 0, n, orjson.loads(line)["contact_id"].encode(), line, 1.5)
    for n, line in enumerate(LINES)
]
POLICY = Policy(clock="event")
CHUNK = 500


def _never() -> int:
    raise AssertionError("the event clock must not read the wall clock")


@pytest.mark.parametrize(
    ("prepared_after", "later"),
    [
        (None, 0),  # no states taken over before the switch: all come at once
        (len(RECORDS) - CHUNK, 0),  # the last chunk read under the lock changes some
        (len(RECORDS), 8 * DAY),  # none read after, but deadlines fire up to the switch
    ],
)
def test_the_child_rebuilds_the_states_and_history_the_worker_would(
    prepared_after: int | None, later: int
) -> None:
    engine = Engine(NEW, horizon_us=DAY)
    here = Rebuild(0, engine, POLICY, _never)
    for start in range(0, len(RECORDS), CHUNK):
        here.feed(RECORDS[start : start + CHUNK])
    last = here.history(False).last
    assert last is not None
    now = last + later
    expected = {contact: engine.snapshot(s) for contact, s in here.states(now).items()}

    async def rebuilt() -> tuple[dict[str, bytes], object, RebuildProcess]:
        child = RebuildProcess(0, engine, POLICY)
        await child.start()
        try:
            for start in range(0, len(RECORDS), CHUNK):
                if start == prepared_after:
                    await child.prepare()
                await child.feed(RECORDS[start : start + CHUNK])
            if prepared_after == len(RECORDS):
                await child.prepare()
            states, history = await child.finish(now, truncated=True)
        finally:
            await child.stop()
        return {c: engine.snapshot(s) for c, s in states.items()}, history, child

    states, history, child = asyncio.run(rebuilt())
    assert len(states) == 150
    assert states == expected
    assert history == here.history(True)
    assert child.records == len(RECORDS)
    if prepared_after is None:
        assert child.restored_late == 150
    else:
        assert 0 < child.restored_late < 150  # only what changed since `prepare`


def test_a_child_that_dies_fails_the_rebuild_in_one_line_and_stop_ends_it() -> None:
    async def killed() -> str:
        child = RebuildProcess(3, Engine(NEW, horizon_us=DAY), POLICY)
        await child.start()
        try:
            running = child._running()
            os.kill(running.pid, 9)
            await running.wait()
            with pytest.raises(RebuildFailed) as failed:
                for _ in range(100):  # the pipe's buffer takes the first few
                    await child.feed(RECORDS[:CHUNK])
                await child.finish(0, truncated=False)
            return str(failed.value)
        finally:
            await child.stop()

    message = asyncio.run(killed())
    assert message == (
        "the rebuild process of partition 3 ended with exit status -9; the worker's log has "
        "its error"
    )


def test_stop_ends_a_child_in_the_middle_of_a_rebuild() -> None:
    async def stopped() -> int | None:
        child = RebuildProcess(0, Engine(NEW, horizon_us=DAY), POLICY)
        await child.start()
        running = child._running()
        await child.feed(RECORDS)
        await child.stop()
        return running.returncode

    assert asyncio.run(stopped()) is not None


def test_finish_refuses_after_a_prepare_cut_short_or_a_finish() -> None:
    async def cut_short() -> tuple[str, str]:
        engine = Engine(NEW, horizon_us=DAY)
        child = RebuildProcess(5, engine, POLICY)
        await child.start()
        try:
            await child.feed(RECORDS)
            preparing = asyncio.ensure_future(child.prepare())
            await asyncio.sleep(0)  # sent, not answered yet: the child has the states to encode
            preparing.cancel()
            with pytest.raises(asyncio.CancelledError):
                await preparing
            with pytest.raises(RebuildFailed) as cut:
                await child.finish(0, truncated=False)
        finally:
            await child.stop()
        child = RebuildProcess(5, engine, POLICY)
        await child.start()
        try:
            await child.feed(RECORDS)
            await child.prepare()
            await child.finish(0, truncated=False)
            with pytest.raises(RebuildFailed) as again:
                await child.finish(0, truncated=False)
        finally:
            await child.stop()
        return str(cut.value), str(again.value)

    expected = "partition 5: the states were not all taken over"
    assert asyncio.run(cut_short()) == (expected, expected)
