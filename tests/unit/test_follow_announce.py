"""The follower writes the `switched:` record of every switch its partitions' metas hold,
once per process: after each switch, and again after a restart (a crash may have come
between the switch's flush and its record)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
import pytest

from stream.app import keys
from stream.app.follow import AnnounceFailed, DefinitionsFeed, Follower, unannounced
from stream.app.processor import Effects, Partition, Policy
from stream.app.runtime import Runtime
from stream.app.versions import Versions
from stream.core.definitions import Switch
from stream.core.evaluation.engine import Engine
from stream.core.language.loader import load_text
from stream.core.timefmt import parse_ts
from stream.ops.metrics import Counters
from stream.testing.fakes import MemoryStore

A = Engine(load_text("version: 1\nsegments:\n  - id: s\n    when: {event: v, within: 1h}\n"))
B = Engine(load_text("version: 1\nsegments:\n  - id: s\n    when: {event: v, within: 2h}\n"))
T0, T1 = parse_ts("2026-11-20T10:00:00Z"), parse_ts("2026-11-20T11:00:00Z")
GROUP = "segstream"


def _partition(store: MemoryStore, number: int, **meta: Any) -> Partition:
    """Partition `number` loaded from a meta with the fields `meta` besides the usual ones."""
    usual = {"watermark": T0, "counts": {}, "offsets": {"events": 5}}
    store.write(number, [(keys.meta_key(number), orjson.dumps({**usual, **meta}))])
    return Partition(number, A, store, Policy(clock="event"))


def _made(engine: Engine, at: int) -> dict[str, Any]:
    return {"rules_version": engine.rules_version, "at": at}


ON_A = {"rules_version": A.rules_version, "switched": _made(A, T0)}  # switched to A at T0


@pytest.mark.parametrize(
    ("meta", "announced"),
    [
        (ON_A, True),
        ({"rules_version": A.rules_version}, False),  # a meta from before switches were kept
        ({}, False),  # from before the worker followed the topic
        ({**ON_A, "rules_version": B.rules_version}, False),  # not the version it runs
        # A begun switch is redone first: its record comes once it is made.
        ({**ON_A, "switching": _made(B, T1)}, False),
    ],
)
def test_a_switch_is_announced_when_the_meta_holds_one_to_the_version_it_runs(
    meta: dict[str, Any], announced: bool
) -> None:
    part = _partition(MemoryStore(), 3, **meta)
    expected = [Switch(GROUP, 3, A.rules_version, T0)] if announced else []
    assert unannounced(GROUP, [(3, part)], set()) == expected
    assert unannounced(GROUP, [(3, part)], set(expected)) == []


@dataclass
class _Assignment:
    owned_: list[int]

    def settled(self) -> bool:
        return True

    def owned(self) -> list[int]:
        return self.owned_


@dataclass
class _Partitions:
    parts: dict[int, Partition]

    def loaded(self) -> list[tuple[int, Partition]]:
        return sorted(self.parts.items())


@dataclass
class _Runtime:
    assignment: _Assignment
    partitions: _Partitions


@dataclass
class _Worker:
    """A follower over fake partitions whose rebuild switches at T1, recording what it writes."""

    parts: dict[int, Partition]
    owned: list[int]
    written: list[Switch] = field(default_factory=list)
    failures: int = 0  # how many writes fail first (the broker gone)
    calls: int = 0  # how many times records were written (a producer each)

    def follower(self) -> Follower:
        runtime = cast(Runtime, _Runtime(_Assignment(self.owned), _Partitions(self.parts)))
        versions = Versions(A, Engine, Counters())
        feed = cast(DefinitionsFeed, None)  # not read by catch_up
        return Follower(runtime, versions, feed, self.rebuild, self.announce, GROUP)

    async def rebuild(self, number: int, part: Partition, engine: Engine) -> None:
        part.switch(engine, {}, T1, Effects())

    async def announce(self, records: list[Switch]) -> None:
        self.calls += 1
        if self.failures:
            self.failures -= 1
            raise ConnectionError("broker unreachable")
        self.written.extend(records)


def _parts(store: MemoryStore) -> dict[int, Partition]:
    return {
        0: _partition(store, 0, **ON_A),
        1: _partition(store, 1, rules_version=A.rules_version),  # before switches were kept
        2: _partition(store, 2, **ON_A),  # owned by another worker
        3: _partition(store, 3, **ON_A, switching=_made(A, T1)),  # crashed inside its switch
    }


def test_each_switch_is_announced_once_per_process_and_again_after_a_restart() -> None:
    store = MemoryStore()
    worker = _Worker(_parts(store), owned=[0, 1, 3])
    follower = worker.follower()
    asyncio.run(follower.catch_up())
    first = [Switch(GROUP, 0, A.rules_version, T0), Switch(GROUP, 3, A.rules_version, T1)]
    assert worker.written == first  # 3 once its begun switch is redone
    asyncio.run(follower.catch_up())
    assert worker.written == first  # once per process
    for number, part in worker.parts.items():
        store.write(number, part.take_writes())

    restarted = _Worker({n: Partition(n, A, store, Policy(clock="event")) for n in range(4)},
                        owned=[0, 1, 3])  # fmt: skip
    asyncio.run(restarted.follower().catch_up())
    assert restarted.written == first  # the same records again: harmless on the topic
    assert restarted.calls == 1  # through one producer, not one per partition


def test_a_failed_write_is_not_counted_as_announced() -> None:
    worker = _Worker(_parts(MemoryStore()), owned=[0], failures=1)
    follower = worker.follower()
    with pytest.raises(AnnounceFailed, match="partition 0: broker unreachable"):
        asyncio.run(follower.catch_up())
    assert worker.written == [] and follower.pending() == [
        Switch(GROUP, 0, A.rules_version, T0)
    ]  # fmt: skip
    asyncio.run(follower.catch_up())
    assert worker.written == [Switch(GROUP, 0, A.rules_version, T0)]


@pytest.mark.allow_error_log
def test_a_failed_write_is_logged_as_one_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    worker = _Worker(_parts(MemoryStore()), owned=[0], failures=1)
    follower = worker.follower()

    async def fail_once() -> None:
        follower._task = asyncio.create_task(follower.catch_up())
        await asyncio.wait([follower._task])
        await follower._check()

    asyncio.run(fail_once())
    assert (
        "writing a switched: record failed (partition 0: broker unreachable); "
        "it starts again in 10 s"
    ) in caplog.messages
