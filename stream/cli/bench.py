"""`segstream bench replay`: replay throughput, memory and state size against the decode floor."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click
import orjson

EXAMPLE_RULES = Path(__file__).resolve().parent.parent / "examples" / "segments.yaml"


@click.group("bench")
def bench() -> None:
    """Benchmarks that print figures (none of them is a test)."""


@bench.command("replay")
@click.option("--contacts", default=1_000_000, show_default=True)
@click.option("--events", default=5_000_000, show_default=True)
@click.option("--seed", default=1, show_default=True)
@click.option(
    "--segments",
    "wide",
    default=100,
    show_default=True,
    help="Size of the synthetic wide rule set measured beside the example rules.",
)
@click.option(
    "--workdir",
    default=os.path.join(tempfile.gettempdir(), "segstream-bench"),
    show_default=True,
    help="Where the generated stream is cached between runs.",
)
def bench_replay(contacts: int, events: int, seed: int, wide: int, workdir: str) -> None:
    """Generate a stream, then time a bare orjson.loads loop and replay over the same file."""
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    data = work / f"events-{contacts}-{events}-{seed}.jsonl"
    if not data.exists():
        click.echo(f"generating {events:,} events for {contacts:,} contacts -> {data}")
        partial = data.with_suffix(".partial")
        _run_child(
            [
                "generate",
                "--contacts",
                str(contacts),
                "--events",
                str(events),
                "--seed",
                str(seed),
                "-o",
                str(partial),
            ]
        )
        partial.rename(data)
    from stream.testing.rulesets import minimal_rules, wide_rules

    wide_path = work / f"wide-{wide}.json"
    wide_path.write_bytes(orjson.dumps(wide_rules(wide)))
    minimal_path = work / "minimal.json"
    minimal_path.write_bytes(orjson.dumps(minimal_rules()))
    size = data.stat().st_size
    click.echo(f"stream: {data} ({size / 2**20:.0f} MiB)")

    floor = _measure(data, None)
    click.echo(
        f"bare orjson.loads: {floor['rate']:,.0f} events/s (CPU), "
        f"peak RSS {floor['rss_mib']:.0f} MiB"
    )
    checked = _measure(data, VALIDATE_ONLY)
    click.echo(
        f"decode + validate each event, no rules: {checked['rate']:,.0f} events/s (CPU) "
        f"({checked['rate'] / floor['rate']:.3f} of bare decode; no replay can beat this)"
    )
    measured = (
        ("one trait segment (near the fastest any rule set runs)", minimal_path),
        ("example rules", EXAMPLE_RULES),
        (f"{wide}-segment rules", wide_path),
    )
    for label, rules in measured:
        stats = _measure(data, rules)
        click.echo(
            f"replay, {label}: {stats['rate']:,.0f} events/s (CPU) "
            f"({stats['rate'] / floor['rate']:.3f} of bare decode), "
            f"peak RSS {stats['rss_mib']:.0f} MiB, "
            f"state {stats['state_bytes_per_contact']:.0f} B/contact over "
            f"{stats['contacts']:,} contacts, {stats['changes']:,} changes"
        )


def _run_child(args: list[str]) -> None:
    # stream.cli.main has no `__main__` block, so `python -m stream.cli.main` would do nothing.
    code = "from stream.cli.main import main; main()"
    subprocess.run([sys.executable, "-c", code, *args], check=True)


VALIDATE_ONLY = ":validate"  # `_measure` mode: decode and validate every line, apply nothing


def _measure(data: Path, rules: Path | str | None) -> dict[str, Any]:
    """Run one measurement in a child process so that its peak memory is its own."""
    code = "import sys; from stream.cli.bench import measure; measure(sys.argv[1], sys.argv[2])"
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(data), str(rules or "")], stdout=subprocess.PIPE
    )
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise click.ClickException(f"measurement failed with exit status {child.returncode}")
    stats: dict[str, Any] = json.loads(output)
    stats["rss_mib"] = usage.ru_maxrss / 1024
    return stats


def measure(data: str, rules: str) -> None:
    """Child side: time decode-only or a full replay, print the figures as JSON."""
    # CPU time, not wall time: the machine may be shared, and both sides are measured alike.
    loads = orjson.loads
    if not rules:
        with open(data, "rb") as source:
            start = time.process_time()
            count = 0
            for line in source:
                loads(line)
                count += 1
            elapsed = time.process_time() - start
        print(json.dumps({"rate": count / elapsed, "events": count}))
        return
    if rules == VALIDATE_ONLY:
        from stream.core.events import decode_event
        from stream.errors import InvalidInput

        with open(data, "rb") as source:
            start = time.process_time()
            count = 0
            for line in source:
                try:  # noqa: SIM105 - contextlib.suppress costs a context manager per line
                    decode_event(line)
                except InvalidInput:
                    pass
                count += 1
            elapsed = time.process_time() - start
        print(json.dumps({"rate": count / elapsed, "events": count}))
        return
    from stream.cli.replay import gc_friendly
    from stream.core.engine import Engine
    from stream.core.loader import load_file
    from stream.core.replay import Replayer, replay_lines

    ruleset = load_file(rules)
    replayer = Replayer(Engine(ruleset))
    changes = 0
    with open(data, "rb") as source:
        start = time.process_time()
        for _ in replay_lines(ruleset, gc_friendly(source), replayer=replayer):
            changes += 1
        elapsed = time.process_time() - start
    counts = replayer.counts
    events = counts.applied + counts.duplicate + counts.invalid
    snapshot = replayer.engine.snapshot
    state_bytes = sum(len(snapshot(state)) for state in replayer.states.values())
    contacts = len(replayer.states)
    print(
        json.dumps(
            {
                "rate": events / elapsed,
                "events": events,
                "changes": changes,
                "contacts": contacts,
                "state_bytes_per_contact": state_bytes / max(contacts, 1),
            }
        )
    )


command = bench
