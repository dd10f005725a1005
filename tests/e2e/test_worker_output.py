"""What a worker prints in a real run: its start, its assignment, its first dead letter of each
reason and its progress lines, every one a plain line with an ISO timestamp."""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from pathlib import Path

import orjson
import pytest

from stream.core.language.loader import load_file
from stream.core.timefmt import format_ts
from stream.testing.waiting import wait_for
from tests.e2e.harness import Names, WorkerProcess, produce

pytestmark = pytest.mark.e2e

RULES = Path(__file__).resolve().parent / "rules" / "fast.yaml"
PARTITIONS = 2
HOUR_US = 3_600_000_000
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[(INFO|WARNING|ERROR|CRITICAL)\] ")
PROGRESS = re.compile(
    r"last [\d.]+ (?:s|min)[^:]*: [\d,]+ events/s applied \((?P<applied>[\d,]+)\), "
    r"(?P<duplicates>[\d,]+) duplicates?, [\d,]+ dead letters?(?: \((?P<reasons>[^)]*)\))?, "
    r"[\d,]+ changes? out; [\d,]+ deadlines? pending; lag [\d,]+ messages?"
)


def _event(n: int, ts_us: int) -> bytes:
    return orjson.dumps({"event_id": f"e-{n}", "contact_id": f"c-{n % 7}", "type": "page_view",
                         "timestamp": format_ts(ts_us)})  # fmt: skip


def _progress(log: str) -> list[re.Match[str]]:
    return [m for line in log.splitlines() if (m := PROGRESS.search(line))]


def _totals(log: str) -> tuple[int, int, Counter[str]]:
    """Applied, duplicates and dead letters by reason over every progress line so far."""
    applied, duplicates, reasons = 0, 0, Counter[str]()
    for match in _progress(log):
        applied += int(match["applied"].replace(",", ""))
        duplicates += int(match["duplicates"].replace(",", ""))
        for part in (match["reasons"] or "").split(", "):
            if part:
                reason, count = part.rsplit(" ", 1)
                reasons[reason] += int(count.replace(",", ""))
    return applied, duplicates, reasons


def test_the_worker_says_what_it_runs_and_what_it_did(kafka_bootstrap: str, tmp_path: Path) -> None:
    names = Names(f"t-output-{uuid.uuid4().hex[:8]}")
    worker = WorkerProcess(
        kafka_bootstrap, RULES, names, tmp_path, partitions=PARTITIONS, clock="wall",
        extra=["--progress-interval", "1s"],
    )  # fmt: skip
    worker.start()
    try:
        worker.wait_ready()

        # Only once every partition is loaded and a progress line followed does every event
        # produced now show in the lines (a partition counts from when it is first seen).
        def counting() -> bool:
            lines = worker.log_text().splitlines()
            loaded = [i for i, line in enumerate(lines) if "loaded: watermark" in line]
            after = lines[loaded[-1] + 1 :] if len(loaded) == PARTITIONS else []
            return any(PROGRESS.search(line) for line in after)

        wait_for(counting, timeout=60, what="the partitions loaded and a progress line")
        now_us = time.time_ns() // 1000
        good = [_event(n, now_us) for n in range(40)]
        bad = [b"{not json", b"{still not json"]
        future = [_event(100 + n, now_us + 3 * HOUR_US) for n in range(2)]
        produce(kafka_bootstrap, names.events, [*good, good[0], *bad, *future], PARTITIONS)

        def all_counted() -> tuple[int, int, Counter[str]] | None:
            totals = _totals(worker.log_text())
            return totals if totals[0] >= len(good) and sum(totals[2].values()) >= 4 else None

        applied, duplicates, reasons = wait_for(all_counted, timeout=60, what="the counts")
        assert (applied, duplicates) == (len(good), 1)
        assert reasons == Counter({"not_json": 2, "too_far_in_future": 2})
    finally:
        worker.stop()
    worker.assert_healthy()
    lines = worker.log_text().splitlines()
    version = load_file(RULES).version_hash
    [start] = [line for line in lines if " worker " in line and " starting: " in line]
    assert (
        f"starting: rules {RULES}: 2 segments, 0 scores, no lifecycle (version {version}); "
        in start
    )
    assert f"events {names.events} ({PARTITIONS} partitions), clock wall" in start
    assert any(line.endswith(f"[INFO] assigned partitions 0-1 of {names.events}") for line in lines)
    warnings = [line for line in lines if "[WARNING] first dead letter for " in line]
    assert sorted(w.split("first dead letter for ")[1].split(":")[0] for w in warnings) == [
        "not_json", "too_far_in_future"]  # fmt: skip
    # Plain lines only: none of Faust's service chatter ("[^Worker]: Starting...") at info.
    assert not [line for line in lines if "[INFO] [^" in line]
    logged = [line for line in lines if "[INFO]" in line or "[WARNING]" in line]
    assert logged and all(LINE.match(line) for line in logged), logged
