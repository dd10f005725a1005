"""Bad input never stops the worker: each kind lands in the dead-letter topic with its reason."""

from __future__ import annotations

import asyncio
import base64
import time
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer

from stream.app.admin import ensure_topics
from stream.core.timefmt import format_ts
from stream.testing.waiting import wait_for
from tests.e2e.harness import (
    Names,
    WorkerProcess,
    changes_of,
    counts_total,
    read_topic,
)

RULES = Path(__file__).resolve().parents[1] / "e2e" / "rules" / "timers.yaml"
MAX_BYTES = 2000


def _event(eid: str, contact: str, ts_us: int, **extra: object) -> bytes:
    body = {"event_id": eid, "contact_id": contact, "type": "page_view",
            "timestamp": format_ts(ts_us), **extra}  # fmt: skip
    return orjson.dumps(body)


def _messages(now_us: int) -> list[tuple[bytes | None, bytes, str | None]]:
    """(key, value, expected dead-letter reason or None when it must be applied)."""
    hour = 3_600_000_000
    email = {"type": "identify", "traits": {"email": "a@example.com"}}
    good = _event("g1", "c1", now_us, **email)
    return [
        (b"c1", good, None),
        (b"c1", good, None),  # a retry: counted as duplicate
        (b"c1", b"{not json", "not_json"),
        (b"c1", b"[1, 2]", "not_object"),
        (b"c1", orjson.dumps({"event_id": "x", "contact_id": "c1", "type": "t"}),
         "missing_field"),
        (b"c1", _event("x2", "c1", now_us).replace(b'"page_view"', b"7"), "wrong_type"),
        (b"c1", _event("x3", "c1", now_us).replace(b'"20', b'"yesterday 20'), "bad_timestamp"),
        (b"c1", _event("x4", "c1", now_us + 3 * hour), "too_far_in_future"),
        (b"c1", _event("x5", "c1", now_us, properties={"pad": "x" * MAX_BYTES}), "too_large"),
        (b"c2", _event("x6", "c1", now_us), "key_mismatch"),
        (None, _event("g2", "c3", now_us, **email), None),  # unkeyed: re-keyed, then applied
        (None, b"\xff\xfe not utf-8", "not_json"),  # unkeyed and no contact id
    ]  # fmt: skip


async def _send(bootstrap: str, topic: str, messages: list[tuple[bytes | None, bytes]]) -> None:
    await ensure_topics(bootstrap, [topic], 2)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


def test_every_bad_kind_is_dead_lettered_and_counts_add_up(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    names = Names(unique_name)
    now_us = time.time_ns() // 1000
    messages = _messages(now_us)
    asyncio.run(_send(kafka_bootstrap, names.events, [(k, v) for k, v, _ in messages]))
    worker = WorkerProcess(
        kafka_bootstrap, RULES, names, tmp_path, partitions=2, clock="wall",
        extra=["--loglevel", "warning"], env={"SEGSTREAM_MAX_MESSAGE_BYTES": str(MAX_BYTES)},
    )  # fmt: skip
    worker.start()
    try:
        worker.wait_ready()
        expected = sorted(r for _, _, r in messages if r is not None)
        dead = read_topic(
            kafka_bootstrap, names.dlq, lambda rs: len(rs) >= len(expected), timeout=90, settle=1.0
        )
        letters = [orjson.loads(r.value) for r in dead]
        assert sorted(d["reason"] for d in letters) == expected
        originals = {v for _, v, r in messages if r is not None}
        for letter in letters:
            original = base64.b64decode(letter["original"])
            assert original in originals
            assert letter["source"]["topic"] == names.events
            assert letter["original_text"] == (
                None if original.startswith(b"\xff") else original.decode()
            )
        produced = len(messages)
        total = wait_for(
            lambda: (c := counts_total([worker.status()]))
            and c["applied"] + c["duplicate"] + c["dead_lettered"] == produced
            and c,
            timeout=30, what="counts to add up to the messages produced",
        )  # fmt: skip
        assert total["applied"] == 2 and total["duplicate"] == 1 and total["rekeyed"] == 1
        changes = changes_of(
            read_topic(
                kafka_bootstrap, names.changes, lambda rs: len(rs) >= 2, timeout=30, settle=0.5
            )
        )
        assert sorted((c.contact_id, c.segment, c.seq) for c in changes) == [
            ("c1", "quiet", 1),
            ("c3", "quiet", 1),
        ]
        assert worker.alive()
    finally:
        worker.stop()
    worker.assert_healthy()
