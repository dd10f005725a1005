"""The worker's table recovery (stream/app/recovery.py) applies changelog records taken in
chunks as Faust applies them one by one: last offset wins, replays and strays skipped."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from faust.types import TP

from stream.app.factory import create_app
from stream.app.recovery import CHUNK, Recovery, _queued
from stream.app.store import table_store
from stream.settings import Settings


def _event(tp: TP, offset: int, key: bytes, value: bytes | None) -> Any:
    message = SimpleNamespace(
        tp=tp, topic=tp.topic, partition=tp.partition, offset=offset, key=key, value=value
    )
    return SimpleNamespace(message=message)


def test_a_chunk_restores_what_faust_would(tmp_path: Path) -> None:
    settings = Settings.from_env({}, state_dir=tmp_path, store="rocksdb://", app_id="chunks")
    wapp = create_app(settings)
    table, recovery = wapp.table, wapp.app.tables.recovery
    assert isinstance(recovery, Recovery)
    changelog = wapp.topics.changelog
    active, standby, stray = TP(changelog, 0), TP(changelog, 1), TP(changelog, 2)
    recovery.active_tps.add(active)
    recovery.standby_tps.add(standby)
    recovery.tp_to_table.update({active: table, standby: table})

    events, last = [], {}
    for offset in range(2500):  # more than one recovery buffer (1,000 records)
        key, value = b"s%d" % (offset % 700), b"v%d" % offset
        value_or_delete = None if offset % 97 == 0 else value
        events.append(_event(active, offset, key, value_or_delete))
        last[key] = value_or_delete
    events.append(_event(active, 5, b"s5", b"replayed"))  # an offset already applied
    events.append(_event(standby, 0, b"t0", b"standby"))
    events.append(_event(stray, 0, b"u0", b"stray"))

    async def take() -> None:
        await recovery._take(iter(events))
        recovery.flush_buffers()

    asyncio.run(take())
    store = table_store(table)
    assert {key: store.get(0, key) for key in last} == last
    assert store.get(1, b"t0") == b"standby"
    assert store.get(2, b"u0") is None
    assert recovery.active_offsets[active] == 2499
    assert recovery.standby_offsets[standby] == 0
    assert table.data.persisted_offset(active) == 2499


def test_a_chunk_takes_what_is_queued_up_to_its_size() -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(1, CHUNK + 10):
        queue.put_nowait(n)
    assert list(_queued(queue, 0)) == list(range(CHUNK))
    assert list(_queued(queue, -1)) == [-1, *range(CHUNK, CHUNK + 10)]
    assert queue.empty()
