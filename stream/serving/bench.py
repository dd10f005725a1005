"""`segstream bench serving`: materialiser changes/s, Redis bytes per membership, API latency."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click
import orjson
import redis

from stream.cli.produce import produce_lines
from stream.core.timefmt import format_ts
from stream.serving.keys import partition_of
from stream.serving.materializer import Materializer, MaterializerConfig
from stream.serving.tokens import encode_cursor
from stream.settings import Settings
from stream.testing.waiting import wait_for

# Memberships per contact at the end of a generated stream under the example rules (replay of
# 40,000 events of 2,000 contacts): the bench's contacts follow the same spread.
PER_CONTACT = {0: 177, 1: 685, 2: 463, 3: 353, 4: 206, 5: 92, 6: 22, 7: 2}
SEGMENTS = [
    "guide_downloaders", "pricing_intent", "content_bingers", "email_disengaged", "unsubscribed",
    "marketing_qualified", "mql_startups", "mql_manufacturing", "sql_enterprise",
    "persona_it_trevor", "persona_ceo_margie", "persona_social_aisha", "abm_tier1",
    "abm_lookalikes", "high_value_customers", "at_risk_customers", "churn_rescue",
]  # fmt: skip
T0 = 1_793_491_200_000_000  # 2026-11-01T00:00:00Z
CLI = "from stream.cli.main import main; main()"


def synthetic_changes(memberships: int, seed: int) -> tuple[list[bytes], list[str]]:
    """Change messages that leave exactly `memberships` memberships, and the contact ids."""
    rng = random.Random(seed)
    counts, weights = list(PER_CONTACT), list(PER_CONTACT.values())
    popularity = [1 / (rank + 1) for rank in range(len(SEGMENTS))]  # a few big segments
    lines: list[bytes] = []
    contacts: list[str] = []
    left = memberships
    while left > 0:
        contact = f"c-{len(contacts)}"
        contacts.append(contact)
        wanted = min(rng.choices(counts, weights)[0], left)
        left -= wanted
        chosen: set[str] = set()
        while len(chosen) < wanted:
            chosen.add(rng.choices(SEGMENTS, popularity)[0])
        at = T0 + rng.randrange(45 * 86_400) * 1_000_000
        stream = [("lifecycle", "lead")] + [("entered", s) for s in sorted(chosen)]
        spare = [s for s in SEGMENTS if s not in chosen]
        if spare and rng.random() < 0.3:  # churn: in and out of one more segment
            stream += [("entered", spare[0]), ("exited", spare[0])]
        for seq, (what, name) in enumerate(stream, start=1):
            change: dict[str, Any] = {"contact_id": contact, "at": format_ts(at + seq),
                                      "reason": "event", "cause_event_id": f"e-{contact}-{seq}",
                                      "rules_version": "bench", "seq": seq}  # fmt: skip
            if what == "lifecycle":
                change.update(kind="lifecycle", to=name)
                change["from"] = None
            else:
                change.update(kind="segment", segment=name, change=what, holdout=seq % 10 == 0)
            lines.append(orjson.dumps(change))
    return lines, contacts


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def _redis_cpu(client: redis.Redis) -> float:
    cpu = client.info("cpu")
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


async def _materialise(
    config: MaterializerConfig, client: redis.Redis, ends: dict[int, int]
) -> float:
    """Run the materialiser until Redis has every end offset; seconds from first to last step."""
    stop = asyncio.Event()
    task = asyncio.create_task(Materializer(config).run(stop))
    keys = {p: f"{{{config.namespace}:p{p}}}:o" for p in ends}
    first: float | None = None
    while True:
        await asyncio.sleep(0.02)
        values = client.mget(list(keys.values()))
        stored = {p: int(v) for p, v in zip(keys, values, strict=True) if v}
        if first is None and stored:
            first = time.perf_counter()
        if all(stored.get(p, -1) >= end for p, end in ends.items()):
            stop.set()
            await task
            return time.perf_counter() - (first or time.perf_counter())
        if task.done():
            task.result()
            raise click.ClickException("the materialiser stopped early")


_WRK_SCRIPT = """
local paths = {%s}
local n = #paths
local counter = 0
math.randomseed(os.time())
function delay() return math.random() * 2 * %f end
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter * 7919) %% n + 1])
end
function done(summary, latency, requests)
  io.write(string.format("WRK %%d %%d %%d %%f %%f %%f\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout,
    summary.duration, latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
"""


def _wrk(
    wrk: str, base: str, paths: list[str], rate: int, seconds: int, work: Path
) -> dict[str, float]:
    """About `rate` requests/s, latencies in milliseconds.

    Stock wrk cannot send on a schedule; each connection waits a random delay (uniform, mean
    connections/rate less a millisecond for the answer) after every answer, which keeps the
    connections from moving in lockstep bursts. The rate reached is reported.
    """
    connections = 20
    script = work / "paths.lua"
    quoted = ",".join(orjson.dumps(p).decode() for p in paths)
    script.write_text(_WRK_SCRIPT % (quoted, max(connections * 1000 / rate - 1, 0.1)))
    args = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), base]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("WRK "))
    requests, errors, duration, p50, p99, p999 = (float(x) for x in line.split()[1:])
    return {"rate": requests / (duration / 1e6), "errors": errors, "p50": p50 / 1000,
            "p99": p99 / 1000, "p999": p999 / 1000}  # fmt: skip


@click.command("serving")
@click.option("--memberships", default=1_000_000, show_default=True)
@click.option("--partitions", default=8, show_default=True)
@click.option("--rate", default=1000, show_default=True, help="API requests per second.")
@click.option("--seconds", default=20, show_default=True, help="Length of each API run.")
@click.option("--seed", default=1, show_default=True)
def command(memberships: int, partitions: int, rate: int, seconds: int, seed: int) -> None:
    """Materialiser throughput, Redis memory per membership and API latency (p50/p99).

    Uses the Kafka broker at SEGSTREAM_BROKER, and starts its own redis-server (so that INFO
    memory sees nothing else) and `segstream api`; latency is measured with wrk.
    """
    wrk = shutil.which("wrk")
    if wrk is None:
        raise click.ClickException("wrk not found; install it with: apt-get install -y wrk")
    if shutil.which("redis-server") is None:
        raise click.ClickException("redis-server not found: apt-get install -y redis-server")
    settings = Settings.from_env()
    bootstrap = settings.bootstrap_servers()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    click.echo(f"load average {load} on {os.cpu_count()} CPUs (the figures depend on it)")
    run = f"{int(time.time())}-{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="segstream-bench-serving-") as tmp:
        work = Path(tmp)
        lines, contacts = synthetic_changes(memberships, seed)
        topic = f"bench-serving-{run}"
        click.echo(f"producing {len(lines):,} change messages ({memberships:,} memberships of "
                   f"{len(contacts):,} contacts) to {topic} ({partitions} partitions)")  # fmt: skip
        asyncio.run(produce_lines(bootstrap, topic, lines, partitions=partitions))
        counts: dict[int, int] = {}
        for line in lines:
            p = partition_of(orjson.loads(line)["contact_id"], partitions)
            counts[p] = counts.get(p, 0) + 1
        ends = {p: n - 1 for p, n in counts.items()}
        port = _free_port()
        server = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port),
                                   "--save", "", "--appendonly", "no", "--dir", tmp],
                                  stdout=subprocess.DEVNULL)  # fmt: skip
        url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(url)
        try:
            wait_for(lambda: _pings(client), 20, what="redis-server")
            _measure_all(client, url, bootstrap, topic, ends, lines, contacts, memberships,
                         wrk, rate, seconds, work)  # fmt: skip
        finally:
            client.close()
            server.terminate()
            server.wait(30)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def _measure_all(
    client: redis.Redis, url: str, bootstrap: str, topic: str, ends: dict[int, int],
    lines: list[bytes], contacts: list[str], memberships: int, wrk: str, rate: int,
    seconds: int, work: Path,
) -> None:  # fmt: skip
    namespace = "bench"
    before, redis_cpu, own_cpu = _memory(client), _redis_cpu(client), time.process_time()
    config = MaterializerConfig(bootstrap, topic, url, namespace)
    elapsed = asyncio.run(_materialise(config, client, ends))
    own_cpu = time.process_time() - own_cpu
    redis_cpu = _redis_cpu(client) - redis_cpu
    after = _memory(client)
    n = len(lines)
    click.echo(f"materialiser: {n:,} changes in {elapsed:.1f} s = {n / elapsed:,.0f} changes/s "
               f"(target >= 50,000); CPU per change: materialiser process "
               f"{own_cpu / n * 1e6:.1f} us, Redis {redis_cpu / n * 1e6:.1f} us")  # fmt: skip
    sample = random.Random(7).sample(contacts, min(2000, len(contacts)))
    contact_bytes = sum(
        int(client.memory_usage(f"{{{namespace}:p{partition_of(c, len(ends))}}}:c:{c}") or 0)
        for c in sample
    ) / len(sample)
    per = (after - before) / memberships
    click.echo(f"Redis memory: {per:.0f} bytes per membership (target <= 120) at "
               f"{memberships:,} memberships of {len(contacts):,} contacts "
               f"(used_memory {before / 2**20:.1f} -> {after / 2**20:.1f} MiB); contact hashes "
               f"~{contact_bytes:.0f} B each (MEMORY USAGE), "
               f"{contact_bytes * len(contacts) / (after - before):.0%} of the total")  # fmt: skip
    port = _free_port()
    env = {**os.environ, "SEGSTREAM_API_TOKEN": ""}
    api = subprocess.Popen(
        [sys.executable, "-c", CLI, "api", "--redis", url, "--app-id", namespace, "--port",
         str(port), "--loglevel", "warning"], env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _http_up(port), 30, what="the API")
        rng = random.Random(3)
        lookups = [f"/v1/contacts/{c}" for c in rng.sample(contacts, min(10_000, len(contacts)))]
        pages = [
            f"/v1/segments/{rng.choice(SEGMENTS[:8])}/members?limit=100"
            + (f"&cursor={encode_cursor(rng.choice(contacts))}" if i % 4 else "")
            for i in range(2000)
        ]
        _wrk(wrk, base, lookups, rate, 3, work)  # warm up connections and caches
        for label, paths in (("contact look-ups", lookups), ("member pages (limit 100)", pages)):
            cpu = _cpu_seconds(api.pid)
            got = _wrk(wrk, base, paths, rate, seconds, work)
            per_request = (_cpu_seconds(api.pid) - cpu) / max(got["rate"] * seconds, 1) * 1e6
            target = " (target p99 < 10 ms)" if label.startswith("contact") else ""
            click.echo(f"API {label} at {got['rate']:,.0f} req/s (asked {rate:,}) for {seconds} s: "
                       f"p50 {got['p50']:.2f} ms, p99 {got['p99']:.2f} ms, p99.9 "
                       f"{got['p999']:.2f} ms, {got['errors']:.0f} errors{target}; API CPU "
                       f"{per_request:.0f} us per request")  # fmt: skip
    finally:
        api.terminate()
        api.wait(30)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _http_up(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
            return b" 200 " in sock.recv(100)
    except OSError:
        return False
