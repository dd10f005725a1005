"""`segstream demo` runs end to end on the test broker and prints a membership summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support import ROOT


@pytest.mark.e2e
def test_demo_prints_changes_and_a_summary(kafka_bootstrap: str) -> None:
    env = {**os.environ, "SEGSTREAM_BROKER": f"kafka://{kafka_bootstrap}"}
    args = ["demo", "--contacts", "40", "--events", "600", "--show", "5"]
    done = subprocess.run(
        [sys.executable, "-m", "stream", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
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
