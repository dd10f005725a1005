"""A newcomer's first hour: the README's "Using it" lines, run as they are written, in order.

Against the test broker, with a wall-clock worker (the default), in a scratch directory that
looks like the repository (`stream/` is there) with `segstream` on PATH, as setup leaves it.
The only addition is `--start` (three days ago) and `--days 2` to `generate`, so that the
history lies in the recent past whatever `generate`'s defaults. A line the README runs "in a
second shell" runs in the background until the end; `tail` runs until it has printed what
the topic holds, then gets Ctrl-C. What `tail` and `tail --dead-letters` print must have the
form of the README's samples.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from queue import Empty, Queue
from typing import Any

import orjson
import pytest
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from stream.ops.status import handled_in, read_status
from stream.testing.processes import stop_process, stop_processes
from stream.testing.waiting import wait_for
from stream.testing.worker import Names
from tests.support import ROOT

README = ROOT / "README.md"
STEP_TIMEOUT_S = 120.0
CHANGE_LINE = re.compile(
    r"(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d)  (?P<contact>\S+)  "
    r"(?P<verb>entered|exited |stage  )  (?P<what>.+?)  "
    r"(?P<why>after event \S+|after profile update \S+|as time passed|after a rules change)"
)
DEAD_LETTER_HEAD = re.compile(
    r"\d{4}-\d\d-\d\d \d\d:\d\d  [a-z][a-z0-9_]*  \S+ partition \d+ offset \d+  .+"
)


def section(title: str) -> str:
    """The text of the README section `## title`, up to the next one."""
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def blocks(text: str, language: str) -> list[list[str]]:
    """The lines of every fenced code block of `language` in `text`."""
    found = re.findall(rf"^```{language}\n(.*?)^```$", text, re.M | re.S)
    return [block.splitlines() for block in found]


def commands() -> list[tuple[str, str]]:
    """The walkthrough, the first bash block of "Using it": (command, its comment) per line."""
    block = blocks(section("Using it"), "bash")[0]
    steps = []
    for line in block:
        command, _, comment = line.partition("  #")
        if command.strip():
            steps.append((command.strip(), comment.strip()))
    return steps


def shape(line: str, events_topic: str) -> str:
    """`line` with what differs from run to run (times, ids, where from) made generic."""
    line = re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d", "TIME", line)
    line = re.sub(r"\b([ce])-\d+\b", r"\1-N", line)
    line = re.sub(r"partition \d+ offset \d+", "partition P offset O", line)
    return line.replace(events_topic, "contact-events")


def records_on(bootstrap: str, topic: str) -> int:
    """How many records `topic` holds (its partitions' end offsets; nothing is compacted)."""

    async def count() -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            (described,) = await admin.describe_topics([topic])
        finally:
            await admin.close()
        parts = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
        await consumer.start()
        try:
            return sum((await consumer.end_offsets(parts)).values())
        finally:
            await consumer.stop()

    return asyncio.run(count())


@dataclass
class Session:
    """A user's shell: the scratch directory, the environment, what ran and what it printed."""

    cwd: Path
    env: dict[str, str]
    bootstrap: str
    names: Names
    worker: subprocess.Popen[bytes] | None = None
    services: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    status_file: Path | None = None
    sent: int = 0
    counts: list[dict[str, int]] = field(default_factory=list)  # after each produce
    tails: dict[str, list[str]] = field(default_factory=dict)
    replay_report: str = ""

    def run(self, line: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["bash", "-c", line], cwd=self.cwd, env=self.env, capture_output=True, text=True,
            timeout=STEP_TIMEOUT_S,
        )  # fmt: skip
        assert done.returncode == 0, f"{line!r} exited {done.returncode}:\n{done.stderr[-3000:]}"
        return done

    def status(self) -> dict[str, Any] | None:
        assert self.status_file is not None, "no worker was started"
        return read_status(self.status_file)

    def totals(self) -> dict[str, int]:
        total = {"applied": 0, "duplicate": 0, "dead_lettered": 0}
        for part in (self.status() or {"partitions": {}})["partitions"].values():
            for name in total:
                total[name] += part["counts"][name]
        return total

    def wait_worker(self, predicate: Callable[[], bool], what: str) -> None:
        def held() -> bool:
            assert self.worker is not None and self.worker.poll() is None, (
                f"the worker exited while waiting for {what}; see the logs in {self.cwd}"
            )
            return predicate()

        wait_for(held, STEP_TIMEOUT_S, interval=0.1, what=what)


def _generate(session: Session, line: str) -> None:
    start = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    session.run(f"{line} --start {start} --days 2")


def _replay(session: Session, line: str) -> None:
    done = session.run(line)
    session.replay_report = done.stderr.splitlines()[-1]
    out = re.search(r"; ([\d,]+) changes out$", session.replay_report)
    assert out is not None, session.replay_report
    printed = (session.cwd / "changes.jsonl").read_bytes().count(b"\n")
    assert int(out[1].replace(",", "")) == printed


def _service(session: Session, line: str) -> subprocess.Popen[bytes]:
    """Start a command that runs until Ctrl-C (the README runs it in another shell)."""
    with (session.cwd / f"{len(session.services)}.log").open("wb") as log:
        proc = subprocess.Popen(
            ["bash", "-c", f"exec {line}"], cwd=session.cwd, env=session.env, stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    session.services[line] = proc
    return proc


def _worker(session: Session, line: str) -> None:
    status = re.search(r"--status-file (\S+)", line)
    assert status is not None, "the README's worker must write a status file to be watched"
    session.status_file = session.cwd / status[1]
    session.worker = _service(session, line)
    session.wait_worker(lambda: session.status() is not None, "the worker's first status")


def _produce(session: Session, line: str) -> None:
    done = session.run(line)
    report = done.stderr.strip()
    sent = re.fullmatch(r"sent ([\d,]+) (events?|lines? unchecked) to (\S+) in .*", report)
    assert sent is not None, done.stderr
    assert sent[3] == session.names.events
    session.sent += int(sent[1].replace(",", ""))
    expected = session.sent
    session.wait_worker(
        lambda: handled_in(session.status()) >= expected, f"{expected} events handled"
    )
    session.counts.append(session.totals())


def _tail(session: Session, line: str) -> None:
    dead = "--dead-letters" in line
    topic = session.names.dlq if dead else session.names.changes
    wanted = records_on(session.bootstrap, topic) * (2 if dead else 1)
    assert wanted > 0, f"nothing on {topic} to tail"
    with subprocess.Popen(
        ["bash", "-c", f"exec {line}"], cwd=session.cwd, env=session.env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    ) as proc:  # fmt: skip
        printed = _read_lines(proc, wanted, line)
        errors = proc.stderr.read() if proc.stderr else ""
    assert proc.returncode == 0, f"{line!r} exited {proc.returncode} on Ctrl-C: {errors}"
    session.tails["dead letters" if dead else "changes"] = printed


def _read_lines(proc: subprocess.Popen[str], wanted: int, line: str) -> list[str]:
    """The first `wanted` lines `proc` prints; then Ctrl-C, as the README says to stop it."""
    lines: Queue[str] = Queue()
    reader = threading.Thread(target=_read_into, args=(proc, lines))
    reader.start()
    printed: list[str] = []
    deadline = time.monotonic() + STEP_TIMEOUT_S
    try:
        while len(printed) < wanted:
            try:
                printed.append(lines.get(timeout=max(0.0, deadline - time.monotonic())))
            except Empty:
                pytest.fail(f"{line!r} printed {len(printed)} of {wanted} lines", pytrace=False)
    finally:
        stopped = stop_process(proc, 30, signal.SIGINT)
        reader.join(30)
        assert stopped is not None, f"{line!r} did not stop within 30 s of Ctrl-C"
    return printed


def _read_into(proc: subprocess.Popen[str], lines: Queue[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.put(line.rstrip("\n"))


RUNNERS: dict[str, Callable[[Session, str], None]] = {
    "generate": _generate,
    "replay": _replay,
    "worker": _worker,
    "produce": _produce,
    "tail": _tail,
}
ELSEWHERE = {"bench": "tests/e2e/test_bench.py"}


def walk(session: Session) -> None:
    """Run every step; each must exit 0, but those that run until Ctrl-C, which must run."""
    for line, comment in commands():
        sub = re.search(r"\bsegstream (\S+)", line)
        if sub is not None and sub[1] in RUNNERS:
            RUNNERS[sub[1]](session, line)
        elif sub is not None and sub[1] in ELSEWHERE:
            continue
        elif "shell" in comment:  # "in a second shell": a service that runs until Ctrl-C
            _service(session, line)
        else:
            session.run(line)
    for line, proc in session.services.items():
        assert proc.poll() is None, f"{line!r} exited {proc.returncode}; logs in {session.cwd}"


def stop(session: Session) -> None:
    """Ctrl-C every service, as a user ends the walkthrough."""
    codes = stop_processes(list(session.services.values()), 60, signal.SIGINT)
    for line, code in zip(session.services, codes, strict=True):
        if code is None:
            pytest.fail(f"{line!r} did not stop within 60 s of Ctrl-C", pytrace=False)


def labels(rules_file: Path) -> dict[str, str]:
    """Segment id -> how tail must name it: `Name (id)` with its name or persona, else the id."""
    out = {}
    for segment in yaml.safe_load(rules_file.read_text())["segments"]:
        title = segment.get("name") or segment.get("persona")
        out[segment["id"]] = f"{title} ({segment['id']})" if title else segment["id"]
    return out


@pytest.mark.e2e
def test_the_readme_walkthrough_works_as_written(kafka_bootstrap: str, tmp_path: Path) -> None:
    names = Names(f"first-hour-{uuid.uuid4().hex[:8]}")
    (tmp_path / "stream").symlink_to(ROOT / "stream")
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "segstream").exists(), f"no segstream next to {sys.executable}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEGSTREAM_")}
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        PYTHONUNBUFFERED="1",
        SEGSTREAM_BROKER=f"kafka://{kafka_bootstrap}",
        SEGSTREAM_EVENTS_TOPIC=names.events,
        SEGSTREAM_CHANGES_TOPIC=names.changes,
        SEGSTREAM_DLQ_TOPIC=names.dlq,
        SEGSTREAM_APP_ID=names.app_id,
        SEGSTREAM_STATE_DIR=str(tmp_path / "state"),
        SEGSTREAM_PARTITIONS="4",
    )
    session = Session(tmp_path, env, kafka_bootstrap, names)
    try:
        walk(session)
    finally:
        stop(session)

    assert session.replay_report.startswith("replay: read 20,000 events in ")
    events = (tmp_path / "events.jsonl").read_bytes().splitlines()
    first_seen: set[tuple[str, str]] = set()
    repeats = 0
    for raw in events:
        event = orjson.loads(raw)
        key = (event["contact_id"], event["event_id"])
        repeats += key in first_seen
        first_seen.add(key)
    first, again, dead = session.counts
    # Every generated event is applied, but for the file's own re-sends, which are duplicates.
    assert first == {"applied": len(events) - repeats, "duplicate": repeats, "dead_lettered": 0}
    # The same file again, a minute later: every event of it is a duplicate.
    assert again == {**first, "duplicate": repeats + len(events)}
    assert dead == {**again, "dead_lettered": 1}

    rules = labels(tmp_path / "rules.yaml")
    changes = session.tails["changes"]
    for line in changes:
        parsed = CHANGE_LINE.fullmatch(line)
        assert parsed is not None, f"tail printed {line!r}"
        what = parsed["what"]
        if parsed["verb"] == "stage  ":
            assert re.fullmatch(r"\S+ -> \S+", what), line
        else:
            label = what.removesuffix("  [holdout]")
            assert label in rules.values(), f"{label!r} is not how the rules name a segment"
    samples = blocks(section("Using it"), "text")
    assert len(samples) == 2, "the README shows what tail and tail --dead-letters print"
    printed = {shape(line, names.events) for line in changes}
    for sample in samples[0]:
        assert CHANGE_LINE.fullmatch(sample), f"the README's {sample!r} is not a tail line"
        assert shape(sample, names.events) in printed, f"tail printed nothing like {sample!r}"
    dead_letters = session.tails["dead letters"]
    assert DEAD_LETTER_HEAD.fullmatch(dead_letters[0]), dead_letters
    assert [shape(line, names.events) for line in dead_letters] == [
        shape(line, names.events) for line in samples[1]
    ]
