"""`segstream health`: overlap of every pair of segments and the lint findings, from Redis."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click
import orjson

from stream.cli.failures import EXIT_UNAVAILABLE
from stream.cli.materialize import app_id_option, load_rules, redis_option, rules_option
from stream.cli.options import setting_option, settings_from
from stream.core.health.lint import Thresholds
from stream.core.language.ast import RuleSet
from stream.serving.connection import UNAVAILABLE, connect, redact
from stream.serving.health import read_health
from stream.serving.store import Store
from stream.settings import Settings


def thresholds_of(settings: Settings) -> Thresholds:
    """The lint's thresholds from the SEGSTREAM_LINT_* settings."""
    return Thresholds(
        min_size=settings.lint_min_size,
        min_share=settings.lint_min_share,
        duplicate_jaccard=settings.lint_duplicate_jaccard,
        max_segments=settings.lint_max_segments,
    )


@click.command("health")
@redis_option()
@app_id_option()
@rules_option()
@setting_option("lint_min_size")
@setting_option("lint_min_share")
@setting_option("lint_duplicate_jaccard")
@setting_option("lint_max_segments")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (as GET /v1/health).")
def command(as_json: bool, **options: Any) -> None:
    """Overlap between every pair of segments, and findings to act on, from the served members.

    Without --rules (or SEGSTREAM_RULES_FILE) it covers the segments Redis has, and cannot
    check holdouts (the rules give their configured shares).
    """
    settings = settings_from(**options)
    rules = load_rules(settings.rules_file)
    answer = asyncio.run(_read(settings, rules))
    if answer is None:
        click.echo(
            f"error: Redis at {redact(settings.redis_url)} does not answer; start it, or name "
            "the one `segstream materialize` writes to with --redis or SEGSTREAM_REDIS_URL",
            err=True,
        )
        sys.exit(EXIT_UNAVAILABLE)
    if as_json:
        click.echo(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(_text(answer), nl=False)


async def _read(settings: Settings, rules: RuleSet | None) -> dict[str, Any] | None:
    thresholds = thresholds_of(settings)
    try:
        store = Store(await connect(settings.redis_url), settings.app_id)
    except UNAVAILABLE:
        return None
    try:
        return await read_health(store, await store.partitions() or 0, rules, thresholds)
    except UNAVAILABLE:
        return None
    finally:
        await store.aclose()


def _text(answer: dict[str, Any]) -> str:
    """The answer for people: sizes, the closest pairs, the findings."""
    lines = [f"{answer['contacts']:,} contacts in at least one segment", "", "segments:"]
    for s in answer["segments"]:
        share = "" if not s["holdout"] else f", holdout {s['held_out']:,} (of {s['holdout']:.0%})"
        lines.append(f"  {s['id']}: {s['size']:,}{share}")
    closest = sorted(answer["overlap"], key=lambda p: (-p["jaccard"], p["a"], p["b"]))
    lines += ["", "closest pairs (Jaccard, members in both):"]
    lines += [
        f"  {p['a']} ~ {p['b']}: {p['jaccard']:.3f}, {p['both']:,}"
        for p in closest[:10]
        if p["both"]
    ]
    lines += ["", f"findings ({len(answer['findings'])}):"]
    for f in answer["findings"]:
        where = " ~ ".join(f["segments"]) or "contacts"
        lines.append(f"  {f['kind']}: {where}: {f['detail']}")
    churn = answer["churn"]
    lines += [
        "",
        f"churn over the {churn['hours']} hours from {churn['since']} (entered, exited, flapped):",
    ]
    lines += [
        f"  {segment}: {c['entered']:,}, {c['exited']:,}, {c['flapped']:,}"
        for segment, c in churn["segments"].items()
        if c["entered"] or c["exited"]
    ]
    if answer["lift"]:
        lines += ["", "lift (share that reached the goal, 95% interval; entered):"]
    for lift in answer["lift"]:
        lines.append(f"  {lift['segment']}: goal: {lift['goal']['text']}")
        for label, group in (("not held out", lift["treated"]), ("held out", lift["held_out"])):
            lines.append(f"    {label}: {_share(group['rate'], group['interval'])}; "
                         f"{group['converted']:,} of {group['entered']:,}")  # fmt: skip
        lines.append(f"    lift: {_points(lift['difference'], lift['difference_interval'])}")
    return "\n".join(lines) + "\n"


def _share(rate: float | None, interval: list[float] | None) -> str:
    """``12.5% (10.1% to 15.2%)``, or ``none entered`` for an empty group."""
    if rate is None or interval is None:
        return "none entered"
    return f"{rate:.1%} ({interval[0]:.1%} to {interval[1]:.1%})"


def _points(difference: float | None, interval: list[float] | None) -> str:
    """``+6.0 points (-2.6 to 8.7)``, or ``-`` without two groups to compare."""
    if difference is None or interval is None:
        return "- (needs members in both groups)"
    low, high = (100 * x for x in interval)
    return f"{100 * difference:+.1f} points ({low:.1f} to {high:.1f})"
