"""No message stops, stalls or corrupts the worker: issue 11's payloads, on the real broker.

Every payload that stopped the worker (exit 70 and a crash loop) or corrupted a partition,
and their variants, interleaved with a generated stream in one worker run with the event
clock: the worker keeps running, each payload is in the dead-letter topic with its reason
and its hash, and the valid events around them produce exactly replay's changes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from stream.app.codecs import encode_dead_letter
from stream.core.language.loader import load_file
from stream.core.replay import replay_lines
from stream.core.timefmt import format_ts, parse_ts
from stream.errors import InvalidInput
from stream.testing.generate import generate
from stream.testing.waiting import wait_for
from tests.e2e.harness import (
    Names,
    WorkerProcess,
    changes_of,
    closing_events,
    counts_total,
    read_topic,
)
from tests.support import EXAMPLE_RULES
from tests.support.changes import by_contact

PARTITIONS = 2
STATE_BYTES = 20_000  # low, so that a few long distinct content ids reach it
HOUR_US = 3_600_000_000
TOPIC_BYTES = 4 * 1024 * 1024  # the events topic allows more than the 1 MiB a dead letter may
# Stands for the timestamp of the stream's event before it, so that what is applied keeps
# the input in time order (the worker's clocks are per partition, replay's is global).
APPLIED = "2000-01-01T00:00:00Z"


def _event(eid: str, contact: str, kind: str, stamp: str, **extra: Any) -> bytes:
    return orjson.dumps({"event_id": eid, "contact_id": contact, "type": kind,
                         "timestamp": stamp, **extra})  # fmt: skip


def _deep(eid: str, kind: str, field: str, key: str, stamp: str) -> bytes:
    """An event whose `field.key` nests 300 objects deep (deeper than orjson writes)."""
    deep = b'{"a":' * 300 + b'"deep"' + b"}" * 300
    head = _event(eid, "h1", kind, stamp)[:-1]
    return head + b',"' + field.encode() + b'":{"' + key.encode() + b'":' + deep + b"}}"


def _payloads(now_us: int) -> list[tuple[bytes | None, str | None]]:
    """(value, the reason it is dead-lettered for, or None when it is to be applied)."""
    t = "2026-10-01T10:00:00Z"
    lenient = ["2026-10-01T10:00:00.Z", "2026-10-01T10:00:00 Z", "2026-10-01T00:00+01:00",
               "2026-10-01T10:00:00+0100", "2026-10-01T10:00:00+01", "2026-10-01T10:00:00,5Z",
               "2026-W40-4T00:00:00Z", "2026-10-01T10:00:00+00:00:30"]  # fmt: skip
    return [
        (None, "tombstone"),
        (b"", "empty"),
        (b" \n", "empty"),
        (b'{"event_id": "' + b"\x01" * 180_000 + b'"}', "not_json"),  # escaped 6 times over
        (_event("big", "h1", "page_view", t, properties={"pad": "x" * 1_500_000}), "too_large"),
        (_event("cd1", "h1", "content_download", t, properties={"content_id": "a" * 600_000}),
         "text_too_long"),
        (_event("cd2", "h1", "content_download", t, properties={"content_id": "b" * 600_000}),
         "text_too_long"),
        *[(_event(f"{n}" * 400_000, "h1", "page_view", t), "event_id_too_long") for n in range(3)],
        (_deep("deep1", "identify", "traits", "company", t), "too_deep"),
        (_deep("deep2", "content_download", "properties", "content_id", t), "too_deep"),
        (_event("p1", "h1", "purchase", t, properties={"amount": 1e308}), "number_out_of_range"),
        (_event("p2", "h1", "purchase", t, properties={"amount": 1e308}), "number_out_of_range"),
        (_event("y1", "h1", "identify", "9999-12-31T23:30:00-01:00", traits={"email": "a@b.c"}),
         "timestamp_out_of_range"),
        (_event("y2", "h1", "identify", "9999-12-31T23:59:59Z", traits={}),
         "timestamp_out_of_range"),
        (_event("y3", "h1", "identify", "0001-01-01T00:00:00+01:00", traits={}),
         "timestamp_out_of_range"),
        # In range, but past the wall clock: dead-lettered with the event clock too, so that
        # it cannot move its partition's clock to year 2999.
        (_event("y4", "h2", "page_view", "2999-12-31T23:59:59Z"), "too_far_in_future"),
        (_event("y5", "h2", "page_view", format_ts(now_us + 2 * HOUR_US)), "too_far_in_future"),
        *[(_event(f"ts{i}", "h1", "page_view", s), "bad_timestamp") for i, s in enumerate(lenient)],
        # A whole float past 64 bits inside a distinct value made the engine raise.
        (_event("f1", "h3", "content_download", APPLIED, properties={"content_id": [1e30]}),
         None),
        (_event("f2", "h3", "content_download", APPLIED, properties={"content_id": {"n": 1e30}}),
         None),
    ]  # fmt: skip


def _hog(n: int, stamp: str) -> bytes:
    """A download of a long new content id by one contact: a few pass the state limit."""
    return _event(f"hog-{n}", "hog", "content_download", stamp,
                  properties={"content_id": f"{n:02d}" + "z" * 3998})  # fmt: skip


def _source(letter: dict[str, Any]) -> dict[str, Any]:
    """The arguments of the dead letter's envelope, but for its original."""
    source = letter["source"]
    return {"reason": letter["reason"], "detail": letter["detail"], "topic": source["topic"],
            "partition": source["partition"], "offset": source["offset"],
            "at_us": parse_ts(letter["at"]),
            "max_bytes": 1 << 40}  # fmt: skip


def _key(value: bytes | None) -> bytes:
    try:
        contact = orjson.loads(value or b"")["contact_id"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return b"h1"
    return contact.encode() if isinstance(contact, str) else b"h1"


async def _send(bootstrap: str, topic: str, values: list[bytes | None]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        config = {"max.message.bytes": str(TOPIC_BYTES)}
        await admin.create_topics([NewTopic(topic, PARTITIONS, 1, topic_configs=config)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=2 * TOPIC_BYTES)
    await producer.start()
    try:
        for value in values:  # in order: one at a time
            await producer.send_and_wait(topic, value, key=_key(value))
    finally:
        await producer.stop()


def test_no_payload_stops_the_worker_and_the_rest_is_replays(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    names = Names(unique_name)
    now_us = time.time_ns() // 1000
    stream = [orjson.dumps(e) for e in generate(60, 900, seed=21, days=20.0)]
    payloads = _payloads(now_us)
    values: list[bytes | None] = []
    for i, line in enumerate(stream):
        values.append(line)
        stamp = orjson.loads(line)["timestamp"]
        if i % 25 == 0 and i // 25 < len(payloads):
            value = payloads[i // 25][0]
            values.append(value.replace(APPLIED.encode(), stamp.encode()) if value else value)
        if i % 40 == 0 and i // 40 < 10:
            values.append(_hog(i // 40, stamp))
    assert len(payloads) <= len(stream) // 25
    last = max(parse_ts(orjson.loads(line)["timestamp"]) for line in stream)
    values += closing_events(PARTITIONS, last)

    # What replay makes of the same input; a message with no value is no line to it.
    reports: list[tuple[int, InvalidInput]] = []
    lines = [v for v in values if v is not None and v.strip()]
    expected = list(replay_lines(
        load_file(EXAMPLE_RULES), lines, on_invalid=lambda n, e: reports.append((n, e)),
        max_bytes=1_048_576, max_state_bytes=STATE_BYTES, wall_us=now_us,
        future_tolerance_us=HOUR_US,
    ))  # fmt: skip
    expected_letters = Counter(
        (hashlib.sha256(lines[n - 1]).hexdigest(), e.reason) for n, e in reports
    )
    reasons = Counter(e.reason for _, e in reports)
    for value, reason in payloads:  # replay agrees with the table of reasons
        if value is None or not value.strip():
            digest = None if value is None else hashlib.sha256(value).hexdigest()
            expected_letters[(digest, reason)] += 1
        elif reason is not None:
            assert reasons[reason] > 0, reason
    assert reasons["too_far_in_future"] == 2 and reasons["bad_timestamp"] == 8
    assert sum(1 for _, e in reports if e.reason == "state_limit") >= 2

    asyncio.run(_send(kafka_bootstrap, names.events, values))
    worker = WorkerProcess(
        kafka_bootstrap, EXAMPLE_RULES, names, tmp_path, partitions=PARTITIONS, clock="event",
        env={"SEGSTREAM_MAX_STATE_BYTES": str(STATE_BYTES)},
    )  # fmt: skip
    worker.start()
    try:
        worker.wait_ready()
        total = sum(expected_letters.values())
        dead = read_topic(kafka_bootstrap, names.dlq, lambda rs: len(rs) >= total, timeout=120,
                          settle=1.0)  # fmt: skip
        letters = [orjson.loads(r.value) for r in dead]
        assert Counter((d["original_sha256"], d["reason"]) for d in letters) == expected_letters
        originals = {hashlib.sha256(v).hexdigest(): v for v in values if v is not None}
        for record, letter in zip(dead, letters, strict=True):
            assert len(record.value) + len(record.key or b"") <= 1_000_000
            if letter["original"] is None:
                continue
            kept = base64.b64decode(letter["original"])
            original = originals[letter["original_sha256"]]
            assert letter["original_bytes"] == len(original)
            whole = len(encode_dead_letter(**{**_source(letter), "original": original}))
            assert letter["truncated"] is (whole + len(record.key or b"") > 1_000_000)
            assert original.startswith(kept) and (letter["truncated"] or kept == original)
        assert sum(d["truncated"] for d in letters) >= 4
        counts = wait_for(
            lambda: (c := counts_total([worker.status()]))
            and c["applied"] + c["duplicate"] + c["dead_lettered"] == len(values) and c,
            timeout=60, what="every message to be counted",
        )  # fmt: skip
        assert counts["dead_lettered"] == total and counts["rekeyed"] == 0
        found = changes_of(read_topic(kafka_bootstrap, names.changes,
                                      lambda rs: len(rs) >= len(expected), timeout=60,
                                      settle=1.0))  # fmt: skip
        assert by_contact(found) == by_contact(expected)
        status = worker.status()
        assert status is not None
        assert all(p["watermark"] <= last for p in status["partitions"].values())
        assert worker.alive()
    finally:
        worker.stop()
    worker.assert_healthy()
