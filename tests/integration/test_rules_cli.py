"""`segstream rules publish`, `history` and `preview` on the real broker."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import orjson
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from stream.cli.produce import produce_lines
from stream.testing.generate import generate
from stream.testing.worker import broker_url
from tests.support import EXAMPLE_RULES, ROOT

NEXT_RULES = """
version: 1
segments:
  - id: pricing_intent
    when: {event: page_view, where: {path: /pricing}, within: 7d, count: {gte: 2}}
  - id: demo_requesters
    when: {event: demo_request, within: 7d}
"""


def segstream(
    bootstrap: str, topic: str, *args: str, events_topic: str | None = None
) -> subprocess.CompletedProcess[str]:
    target = ["--broker", broker_url(bootstrap), "--topic", topic]
    if events_topic is not None:
        target += ["--events-topic", events_topic]
    return subprocess.run(
        [sys.executable, "-m", "stream", "rules", *args, *target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_publish_history_and_a_rejected_file(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    topic = f"{unique_name}-definitions"
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nsegments:\n  - id: a\n    when: {trait: x, greater: 1}\n"
                   "  - id: b\n    when: {in_segment: nowhere}\n")  # fmt: skip
    rejected = segstream(kafka_bootstrap, topic, "publish", str(bad))
    assert rejected.returncode == 2
    errors = rejected.stderr.splitlines()
    assert len(errors) >= 2 and all(line.startswith(f"{bad}: ") for line in errors), errors
    empty = segstream(kafka_bootstrap, topic, "history")
    assert empty.returncode == 0 and "no version published" in empty.stdout, empty.stderr

    first = segstream(kafka_bootstrap, topic, "publish", str(EXAMPLE_RULES))
    assert first.returncode == 0, first.stderr
    assert "first version" in first.stdout
    again = segstream(kafka_bootstrap, topic, "publish", str(EXAMPLE_RULES))
    assert again.returncode == 0 and "in force already; not published" in again.stdout
    nxt = tmp_path / "next.yaml"
    nxt.write_text(NEXT_RULES)
    second = segstream(kafka_bootstrap, topic, "publish", str(nxt))
    assert second.returncode == 0, second.stderr

    listed = segstream(kafka_bootstrap, topic, "history")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 2, lines
    assert lines[0].endswith("switched: no  first version")
    assert "from next.yaml" in lines[1]
    assert "added demo_requesters; removed " in lines[1] and "changed pricing_intent" in lines[1]
    assert _cleanup_policy(kafka_bootstrap, topic) == "compact"


def _cleanup_policy(bootstrap: str, topic: str) -> str:
    async def read() -> str:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            [response] = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, topic)]
            )
        finally:
            await admin.close()
        entries = response.resources[0][4]
        return str(next(entry[1] for entry in entries if entry[0] == "cleanup.policy"))

    return asyncio.run(read())


def test_preview_of_the_topics_history_agrees_with_a_preview_of_the_file(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    topic, events_topic = f"{unique_name}-definitions", f"{unique_name}-events"
    assert segstream(kafka_bootstrap, topic, "publish", str(EXAMPLE_RULES)).returncode == 0
    lines = [orjson.dumps(e) for e in generate(400, 6000, seed=11)]  # in timestamp order
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(lines) + b"\n")
    asyncio.run(produce_lines(kafka_bootstrap, events_topic, lines, partitions=3))
    nxt = tmp_path / "next.yaml"
    nxt.write_text(NEXT_RULES)

    from_topic = segstream(
        kafka_bootstrap, topic, "preview", str(nxt), "--json", events_topic=events_topic
    )
    assert from_topic.returncode == 0, from_topic.stderr
    from_file = segstream(
        kafka_bootstrap, topic, "preview", str(nxt), "--json", "--events", str(events),
        "--current", str(EXAMPLE_RULES),
    )  # fmt: skip
    assert from_file.returncode == 0, from_file.stderr
    assert orjson.loads(from_topic.stdout) == orjson.loads(from_file.stdout)
    report = orjson.loads(from_topic.stdout)
    assert report["history"]["events"] == len(lines)
    statuses = {s["id"]: s["status"] for s in report["segments"]}
    assert statuses["demo_requesters"] == "added" and statuses["pricing_intent"] == "changed"
