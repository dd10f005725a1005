"""`segstream bench page`: the status page's load time in chromium, 100 segments, 1M members."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import orjson
import redis
import redis.asyncio as aredis

from stream.core.language.loader import load_dict
from stream.serving.bench import CLI, _free_port, _http_up, _pings
from stream.serving.keys import encode_since, partition_of
from stream.serving.lift import goal_spec
from stream.serving.store import Store
from stream.testing.waiting import wait_for

HOUR_US = 3_600_000_000
T0 = 1_793_491_200_000_000  # 2026-11-01T00:00:00Z
STEP = 1000  # changes per atomic step, the materialiser's default batch
# The page's answers, timed one by one to say where its load time goes.
PATHS = ("/v1/segments", "/v1/health", "/v1/history?resolution=hour&buckets=48", "/metrics")


def bench_rules(segments: int) -> dict[str, Any]:
    """`segments` segments (every tenth with a 10% holdout and a goal) and a small lifecycle."""
    listed: list[dict[str, Any]] = []
    for i in range(segments):
        segment: dict[str, Any] = {"id": f"s{i:03}", "name": f"Bench segment {i}",
                                   "when": {"trait": f"t{i}", "exists": True}}  # fmt: skip
        if i % 10 == 0:
            segment |= {"holdout": 0.1, "goal": {"stage": "customer", "within": "30d"}}
        listed.append(segment)
    stages = ["lead", "mql", "customer"]
    rules = [{"stage": s, "when": {"trait": f"is_{s}", "eq": True}} for s in stages]
    return {"version": 1, "lifecycle": {"stages": stages, "rules": rules}, "segments": listed}


def bench_changes(
    memberships: int, segments: list[str], held: set[str], seed: int
) -> Iterator[tuple[str, list[str]]]:
    """(contact, the five apply arguments of each of its changes) leaving `memberships`
    memberships over the last 48 hours: about two per contact, a few big segments, some
    churn, and a fifth of the contacts becoming customers."""
    rng = random.Random(seed)
    popularity = [1 / (rank + 1) ** 0.8 for rank in range(len(segments))]
    left, number = memberships, 0
    while left > 0:
        contact = f"c-{number}"
        number += 1
        chosen = set(rng.choices(segments, popularity, k=min(rng.choice((1, 2, 2, 3)), left)))
        left -= len(chosen)
        at = T0 + rng.randrange(48 * HOUR_US)
        args = [contact, "1", "L", "lead", str(at)]
        seq = 1
        for segment in sorted(chosen):
            seq += 1
            holdout = segment in held and rng.random() < 0.1
            args += [contact, str(seq), "+", segment, encode_since(at + seq, holdout)]
        if rng.random() < 0.2:
            seq += 1
            args += [contact, str(seq), "L", "customer", str(at + HOUR_US)]
        if rng.random() < 0.1:  # churn: in and out of one more segment
            spare = rng.choice(segments)
            if spare not in chosen:
                args += [contact, str(seq + 1), "+", spare, encode_since(at + seq + 1, False)]
                args += [contact, str(seq + 2), "-", spare, str(at + 2 * HOUR_US)]
        yield contact, args


async def load(url: str, namespace: str, memberships: int, partitions: int, seed: int) -> int:
    """Apply the bench's changes straight through the store (no Kafka); contacts loaded."""
    rules = load_dict(bench_rules(100))
    ids = [s.id for s in rules.segments]
    held = {s.id for s in rules.segments if s.holdout}
    store = Store(aredis.Redis.from_url(url), namespace)
    goals = goal_spec(rules)
    try:
        await store.write_meta("bench-page", partitions)
        pending: dict[int, list[str]] = {p: [] for p in range(partitions)}
        offsets = dict.fromkeys(range(partitions), -1)
        contacts = 0

        async def flush(p: int) -> None:
            args, count = pending[p], len(pending[p]) // 5
            last = offsets[p] + count
            await store.apply(p, last, 0, offsets[p], args, goals)
            offsets[p], pending[p] = last, []

        for contact, args in bench_changes(memberships, ids, held, seed):
            contacts += 1
            p = partition_of(contact, partitions)
            pending[p] += args
            if len(pending[p]) >= 5 * STEP:
                await flush(p)
        await asyncio.gather(*(flush(p) for p in range(partitions) if pending[p]))
        return contacts
    finally:
        await store.aclose()


def _timed_get(base: str, path: str) -> float:
    began = time.perf_counter()
    with urllib.request.urlopen(base + path, timeout=120) as answer:
        answer.read()
    return time.perf_counter() - began


@click.command("page")
@click.option("--memberships", default=1_000_000, show_default=True)
@click.option("--partitions", default=8, show_default=True)
@click.option("--loads", default=5, show_default=True, help="Page loads to time.")
@click.option("--seed", default=1, show_default=True)
def command(memberships: int, partitions: int, loads: int, seed: int) -> None:
    """The status page's load time in headless chromium: 100 segments, `--memberships`
    members in a redis-server of its own, loaded through the store (no Kafka needed).

    Needs redis-server, chromium and the dev extras (websockets, httpx).
    """
    try:
        from stream.testing import chromium
    except ImportError as error:
        message = f"{error}: install the dev extras (pip install -e '.[dev]')"
        raise click.ClickException(message) from None
    if shutil.which("redis-server") is None:
        raise click.ClickException("redis-server not found: apt-get install -y redis-server")
    if chromium.executable() is None:
        raise click.ClickException("chromium not found: apt-get install -y chromium")
    load_avg = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    click.echo(f"load average {load_avg} on {os.cpu_count()} CPUs (the figures depend on it)")
    with tempfile.TemporaryDirectory(prefix="segstream-bench-page-") as tmp:
        port = _free_port()
        server = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port),
                                   "--save", "", "--appendonly", "no", "--dir", tmp],
                                  stdout=subprocess.DEVNULL)  # fmt: skip
        url = f"redis://127.0.0.1:{port}/0"
        try:
            with redis.Redis.from_url(url) as client:
                wait_for(lambda: _pings(client), 20, what="redis-server")
            began = time.perf_counter()
            contacts = asyncio.run(load(url, "bench", memberships, partitions, seed))
            click.echo(f"loaded {memberships:,} memberships of {contacts:,} contacts in 100 "
                       f"segments, {partitions} partitions, through the store in "
                       f"{time.perf_counter() - began:.1f} s")  # fmt: skip
            rules = Path(tmp) / "rules.json"
            rules.write_bytes(orjson.dumps(bench_rules(100)))
            _measure(chromium, url, rules, loads)
        finally:
            server.terminate()
            server.wait(30)


def _measure(chromium: Any, url: str, rules: Path, loads: int) -> None:
    port = _free_port()
    api = subprocess.Popen(
        [sys.executable, "-c", CLI, "api", "--redis", url, "--app-id", "bench", "--rules",
         str(rules), "--port", str(port), "--loglevel", "warning"],
        env={**os.environ, "SEGSTREAM_API_TOKEN": ""},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _http_up(port), 30, what="the API")
        for path in PATHS:
            times = [_timed_get(base, path) for _ in range(3)]
            click.echo(f"  GET {path}: median {statistics.median(times) * 1000:,.0f} ms of 3")
        figures = []
        with chromium.browser() as page:
            for _ in range(loads):
                page.open(base + "/", "document.body.dataset.ready === 'true'", timeout=300)
                figures.append(float(page.evaluate("document.body.dataset.loadMs")))
            rows = page.evaluate("document.querySelectorAll('#segments tbody tr').length")
            assert page.errors == [], page.errors
        spread = ", ".join(f"{ms:,.0f}" for ms in figures)
        click.echo(f"status page load (navigation to everything drawn, {rows} segments) over "
                   f"{loads} loads: median {statistics.median(figures):,.0f} ms, min "
                   f"{min(figures):,.0f}, max {max(figures):,.0f} ({spread} ms)")  # fmt: skip
    finally:
        api.terminate()
        api.wait(30)
