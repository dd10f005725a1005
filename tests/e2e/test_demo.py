"""`segstream demo` runs end to end on the test broker, prints a sample of changes in time
order and a membership summary, and leaves no topic behind."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from stream.cli.describe import LEGEND
from stream.testing.processes import stop_process
from stream.testing.waiting import wait_for
from tests.support import ROOT


def _topics(bootstrap: str) -> list[str]:
    async def listed() -> list[str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            return list(await admin.list_topics())
        finally:
            await admin.close()

    return asyncio.run(listed())


def _serve_until_looked_at(demo: subprocess.Popen[str]) -> tuple[str, str]:
    """Read the demo's output up to the live status page's address, check the page and its
    data answer there, then press Ctrl-C; the output before and after."""
    assert demo.stdout is not None
    before = []
    for line in demo.stdout:
        before.append(line)
        if line.startswith("The status page, live: "):
            break
    else:
        raise AssertionError("".join(before))
    base = before[-1].split()[4].rstrip("/")
    assert "Segment health" in httpx.get(base + "/", timeout=10).text
    assert len(httpx.get(base + "/v1/segments", timeout=10).json()["segments"]) == 17
    assert httpx.get(base + "/v1/health", timeout=30).json()["lift"]
    demo.send_signal(signal.SIGINT)
    rest, _ = demo.communicate(timeout=120)
    return "".join(before), rest


@pytest.mark.e2e
def test_demo_prints_changes_and_a_summary(kafka_bootstrap: str, tmp_path: Path) -> None:
    env = {**os.environ, "SEGSTREAM_BROKER": f"kafka://{kafka_bootstrap}"}
    args = ["demo", "--contacts", "40", "--events", "600", "--show", "5", "--serve"]
    errors = tmp_path / "stderr"
    with errors.open("w") as stderr:
        demo = subprocess.Popen(
            [sys.executable, "-m", "stream", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        try:
            out, after = _serve_until_looked_at(demo)
        finally:
            # Ctrl-C first, as a user stops it: killed at once, it would leave its API and
            # materialiser running.
            stop_process(demo, 60, signal.SIGINT)
    assert demo.returncode == 0, out + after + errors.read_text()
    # It ends with the address of the status page of the run, one file that opens offline.
    last = after.splitlines()[-1]
    assert last.startswith("The status page of this run, one file that opens offline: file://")
    page = Path(last.split("offline: file://")[1])
    text = page.read_text()
    assert "window.SEGSTREAM_SNAPSHOT" in text and '="/page/' not in text  # nothing linked
    page.unlink()
    out += after
    assert f"Kafka answers at {kafka_bootstrap}." in out
    assert "Membership at the end of the stream:" in out
    assert "segment               members  entered  exited" in out
    assert "lifecycle: " in out
    # It ends with memberships answered by the API, materialised from the demo's changes.
    assert "Materialising the changes into" in out
    answers = [ln for ln in out.splitlines() if ln.startswith("  {")]
    assert len(answers) == 3, out
    contact, segment, page = (json.loads(ln) for ln in answers)
    assert contact["segments"] and contact["seq"] >= 1
    assert segment["size"] >= len(page["members"]) > 0
    assert f"  {LEGEND}\n" in out
    times = re.findall(r"^  (\d{4}-\d\d-\d\d \d\d:\d\d)  c-", out, re.M)
    assert len(times) == 5 and times == sorted(times), out
    removed = re.search(r"^Removed the (\d+) topics the demo created \((\S+)-\*\)\.$", out, re.M)
    assert removed is not None and int(removed[1]) >= 3, out
    prefix = removed[2] + "-"

    def none_left() -> bool:
        return not any(t.startswith(prefix) for t in _topics(kafka_bootstrap))

    wait_for(none_left, 30, interval=0.2, what=f"the demo's topics {prefix}* to be gone")
