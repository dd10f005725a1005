"""`segstream bench replay` measures the real replay: its change counts match `segstream replay`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import EXAMPLE_RULES, ROOT


def _segstream(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "stream", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.e2e
def test_bench_replay_prints_every_measurement_against_bare_decode(tmp_path: Path) -> None:
    out = _segstream(
        "bench", "replay", "--contacts", "200", "--events", "1500", "--segments", "5",
        "--workdir", str(tmp_path),
    )  # fmt: skip
    assert re.search(r"^bare orjson\.loads: [\d,]+ events/s", out, re.M), out
    assert re.search(r"^decode \+ validate each event, no rules: .*\(0\.\d+ of bare", out, re.M)
    replays = dict(re.findall(r"^replay, (.+?): .* ([\d,]+) changes$", out, re.M))
    assert set(replays) == {
        "one trait segment (near the fastest any rule set runs)",
        "example rules",
        "5-segment rules",
    }, out

    stream = tmp_path / "events-200-1500-1.jsonl"
    printed = _segstream("replay", "--rules", str(EXAMPLE_RULES), "--events", str(stream))
    assert int(replays["example rules"].replace(",", "")) == len(printed.splitlines())
