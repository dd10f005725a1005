"""The benchmarks print every figure they promise, measured on the real replay and worker."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from stream.core.shards import route
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
        "--jobs", "2", "--workdir", str(tmp_path),
    )  # fmt: skip
    assert re.search(r"^bare orjson\.loads: [\d,]+ events/s", out, re.M), out
    assert re.search(r"^decode \+ validate each event, no rules: .*\(0\.\d+ of bare", out, re.M)
    replays = dict(re.findall(r"^replay, (.+?): .* ([\d,]+) changes$", out, re.M))
    assert set(replays) == {
        "one trait segment (near the fastest any rule set runs)",
        "example rules",
        "5-segment rules",
    }, out
    jobs = r"^replay --jobs 1: [\d.]+ s wall .*; --jobs 2: [\d.]+ s wall .*: [\d.]+x; "
    assert re.search(
        jobs + r"perfect split \(2 replays of the parts at once\): [\d.]+ s", out, re.M
    )
    # The split parts hold every line once, each in its owner's file.
    stream = tmp_path / "events-200-1500-1.jsonl"
    parts = [part.read_bytes().splitlines() for part in sorted(tmp_path.glob("*.job-*-of-2.jsonl"))]
    assert len(parts) == 2, out
    for index, lines in enumerate(parts):
        assert {route(line, 2)[0] for line in lines} == {index}
    assert sorted(line for lines in parts for line in lines) == sorted(
        stream.read_bytes().splitlines()
    )

    printed = _segstream("replay", "--rules", str(EXAMPLE_RULES), "--events", str(stream))
    assert int(replays["example rules"].replace(",", "")) == len(printed.splitlines())


@pytest.mark.e2e
def test_bench_worker_live_run_prints_both_latencies_and_the_cpu_split(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    out = _segstream(
        "bench", "worker", "--contacts", "200", "--events", "1500", "--rate", "200",
        "--latency-seconds", "3", "--workdir", str(tmp_path),
    )  # fmt: skip
    bench = re.search(r"consumer sees it: p50 ([\d,]+) ms, p99 ([\d,]+) ms over ([\d,]+)", out)
    assert bench, out
    worker = re.search(r"/metrics histogram: p50 ([\d,]+) ms, p99 ([\d,]+) ms over ([\d,]+)", out)
    assert worker, out
    # Every change the bench saw was caused by one of its events, and the worker counted it.
    assert int(worker[3].replace(",", "")) >= int(bench[3].replace(",", "")) > 0, out
    cpu = re.search(r"CPU of \d+ cores .*: worker \d+%, broker \d+%, bench load \d+%", out)
    assert cpu, out


@pytest.mark.e2e
def test_bench_switch_times_the_preview_and_every_partitions_rebuild_and_switch(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    out = _segstream(
        "bench", "switch", "--contacts", "300", "--events", "6000", "--partitions", "2",
        "--burst", "0.1", "--preview-jobs", "1", "--workdir", str(tmp_path),
    )  # fmt: skip
    assert re.search(r"^history under A .*: 4,800 events applied in [\d.]+ s", out, re.M), out
    assert re.search(r"^live burst, nothing else running: 600 events applied", out, re.M), out
    assert re.search(r"^rules preview B against the topic's history \(--jobs 1\): ", out, re.M)
    assert re.search(r"^publish B to every partition switched: [\d.]+ s$", out, re.M), out
    rebuilt = [int(n.replace(",", "")) for n in re.findall(r"([\d,]+) records rebuilt", out)]
    assert len(rebuilt) == 2, out
    # Each partition is rebuilt up to its live position: the history and the first burst
    # at least, and at most everything sent.
    assert 5400 <= sum(rebuilt) <= 6000, out
    assert re.search(r"^live burst during the rebuild: [\d,]+ events applied in ", out, re.M)
