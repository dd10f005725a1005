"""Record batches reach the broker as `send` would put them: same partitions, order, offsets."""

from __future__ import annotations

import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from stream.app.admin import ensure_topics
from stream.app.batches import send_batched
from stream.app.outputs import Message

PARTITIONS = 3


Record = tuple[int, bytes, bytes, list[tuple[str, bytes]]]


async def _read_all(bootstrap: str, topic: str, expected: int) -> list[Record]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    records: list[Record] = []
    deadline = time.monotonic() + 60
    try:
        while len(records) < expected and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records += [(r.partition, r.key, r.value, list(r.headers)) for r in batch]
    finally:
        await consumer.stop()
    return records


async def test_batches_keep_partitioning_order_and_report_last_offsets(
    kafka_bootstrap: str, unique_name: str
) -> None:
    keyed, pinned = f"{unique_name}-keyed", f"{unique_name}-pinned"
    await ensure_topics(kafka_bootstrap, [keyed, pinned], PARTITIONS)
    # Enough records (with headers) to need several record batches per partition.
    messages: list[Message] = [
        (keyed, f"c-{i % 50}".encode(), f"{i:06d}".encode() * 40, None, [("n", str(i).encode())])
        for i in range(3000)
    ]
    messages += [(pinned, None, f"{i}".encode(), 1, None) for i in range(500)]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        last = await send_batched(producer, messages)
        # Where plain `send` puts each key: the batches must agree with it.
        reference = {
            key: (await (await producer.send(keyed, b"ref", key=key))).partition
            for key in {m[1] for m in messages if m[0] == keyed}
        }
    finally:
        await producer.stop()

    records = await _read_all(kafka_bootstrap, keyed, 3000 + len(reference))
    batched = [r for r in records if r[2] != b"ref"]
    assert len(batched) == 3000
    per_key: dict[bytes, list[int]] = {}
    for partition, key, value, headers in batched:
        assert partition == reference[key]
        assert headers == [("n", str(int(value[:6])).encode())]
        per_key.setdefault(key, []).append(int(value[:6]))
    assert all(values == sorted(values) for values in per_key.values())

    pinned_records = await _read_all(kafka_bootstrap, pinned, 500)
    assert [int(v) for p, _, v, _ in pinned_records if p == 1] == list(range(500))
    assert last[TopicPartition(pinned, 1)] == 499
    counts = {p: sum(1 for q, *_ in batched if q == p) for p in range(PARTITIONS)}
    for p, n in counts.items():
        if n:
            assert last[TopicPartition(keyed, p)] == n - 1
