"""The worker's lines for an operator: what it runs, its partitions, recovery and progress.

Plain functions of the numbers `stream.app.progress` gathers; no timestamps of their own (the
log line has one) and durations as a person reads them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from stream.core.language.ast import RuleSet
from stream.core.language.loader import summary
from stream.settings import Settings

DETAIL_CHARS = 200  # of a dead letter's detail in its warning; the full text is in the DLQ


def start_line(settings: Settings, rules: RuleSet) -> str:
    """What the worker runs: its rules, broker, topics and how it treats time."""
    guarantee = "exactly-once" if settings.exactly_once else "at-least-once"
    security = settings.kafka_security_protocol
    if security != "PLAINTEXT" and settings.kafka_sasl_username:
        security += f" as {settings.kafka_sasl_username}"  # the user, never the password
    over = "" if security == "PLAINTEXT" else f" over {security}"
    return (
        f"worker {settings.app_id} starting: rules {settings.rules_file}: {summary(rules)}; "
        f"broker {settings.bootstrap_servers()}{over}, events {settings.events_topic} "
        f"({settings.partitions} partitions), clock {settings.clock}, {guarantee}"
    )


def assigned_line(topic: str, owned: Sequence[int]) -> str:
    if not owned:
        return f"no partition of {topic} assigned to this worker"
    return f"assigned partitions {ranges(owned)} of {topic}"


def recovery_line(restored: int, left: int, elapsed_s: float) -> str:
    """Progress of the table's restore from its changelog, with the time left at this rate."""
    rate = restored / elapsed_s if elapsed_s > 0 else 0.0
    eta = f"about {duration(left / rate)} left" if rate > 0 else "time left not known yet"
    total = restored + left
    return (
        f"recovering the table: {restored:,} of {total:,} changelog records ({rate:,.0f}/s), {eta}"
    )


def recovered_line(total: int, elapsed_s: float) -> str:
    return f"table recovered: {total:,} changelog records in {duration(elapsed_s)}"


def progress_line(
    *,
    elapsed_s: float,
    applied: int,
    duplicates: int,
    dead_letters: Counter[str],
    changes: int,
    pending: int,
    lag: int,
    behind_s: float,
) -> str:
    """One line on the last `elapsed_s` seconds, the deadlines pending and the lag now."""
    rate = applied / elapsed_s if elapsed_s > 0 else 0.0
    letters = sum(dead_letters.values())
    reasons = ", ".join(f"{reason} {n:,}" for reason, n in sorted(dead_letters.items()))
    behind = f", {duration(behind_s)} behind" if lag and behind_s > 0 else ""
    return (
        f"last {duration(elapsed_s)}: {rate:,.0f} events/s applied ({applied:,}), "
        f"{duplicates:,} {_plural(duplicates, 'duplicate')}, "
        f"{letters:,} {_plural(letters, 'dead letter')}{f' ({reasons})' if reasons else ''}, "
        f"{changes:,} {_plural(changes, 'change')} out; "
        f"{pending:,} {_plural(pending, 'deadline')} pending; "
        f"lag {lag:,} {_plural(lag, 'message')}{behind}"
    )


def first_dead_letter_line(
    reason: str, detail: str, topic: str, partition: int, offset: int
) -> str:
    """The warning the first time a reason appears: where, and what was wrong."""
    detail = " ".join(detail.split())  # one line, whatever the input held
    if len(detail) > DETAIL_CHARS:
        detail = detail[: DETAIL_CHARS - 3] + "..."
    return (
        f"first dead letter for {reason}: {topic}[{partition}] offset {offset}: {detail} "
        "(more are counted in the progress lines)"
    )


def ranges(numbers: Iterable[int]) -> str:
    """``0-3, 5, 7-8`` for 0, 1, 2, 3, 5, 7, 8."""
    spans: list[list[int]] = []
    for n in sorted(numbers):
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def duration(seconds: float) -> str:
    """``0.4 s``, ``12 s``, ``3 min 20 s``, ``2 h 5 min``: as precise as a person reads."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _plural(n: int, noun: str) -> str:
    return noun if n == 1 else noun + "s"
