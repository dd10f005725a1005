"""Change messages and dead letters as lines a person reads (`segstream tail`, the demo)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from stream.cli.report import printable
from stream.core.changes import Change, LifecycleChange
from stream.core.language.ast import RuleSet

LEGEND = (
    "time (UTC)  contact  entered/exited segment, or stage from -> to  "
    "[holdout] = a member held back from campaigns  why"
)
ORIGINAL_SHOWN = 300  # characters of a dead letter's original message shown; --json has all

_WHY = {
    "event": "after event",
    "profile": "after profile update",
    "time": "as time passed",
    "rules": "after a rules change",
}
_VERB_WIDTH = len("entered")


def segment_labels(rules: RuleSet | None) -> dict[str, str]:
    """Segment id -> `Name (id)`, the name being the segment's name or persona, else the id."""
    if rules is None:
        return {}
    out = {}
    for segment in rules.segments:
        title = segment.name or segment.persona
        out[segment.id] = f"{title} ({segment.id})" if title else segment.id
    return out


def minute(stamp: str) -> str:
    """`2026-11-01T01:09:30.250Z` as `2026-11-01 01:09`: change times are UTC."""
    return stamp[:16].replace("T", " ")


def describe(change: Change, labels: Mapping[str, str] | None = None) -> str:
    """One line for a person: when, who, what, why.

    `2026-11-01 01:09  c-38  entered  CEO Margie (persona_ceo_margie)  after profile update e-6`
    """
    if isinstance(change, LifecycleChange):
        verb = "stage"
        what = f"{change.from_ or '(none)'} -> {change.to or '(none)'}"
    else:
        verb = change.change
        what = (labels or {}).get(change.segment, change.segment)
        if change.holdout:
            what += "  [holdout]"
    why = _WHY.get(change.reason, change.reason)
    if change.cause_event_id:
        why += f" {change.cause_event_id}"
    return f"{minute(change.at)}  {change.contact_id}  {verb:<{_VERB_WIDTH}}  {what}  {why}"


def describe_dead_letter(envelope: Mapping[str, Any]) -> list[str]:
    """Two lines for one dead letter (schemas/dead-letter.schema.json): when, why, where from;
    then the original message, as text when it is UTF-8, else as bytes."""
    source = envelope["source"]
    where = f"{source['topic']} partition {source['partition']} offset {source['offset']}"
    head = f"{minute(envelope['at'])}  {envelope['reason']}  {where}  {envelope['detail']}"
    return [printable(head), "    original: " + original_text(envelope)]


def original_text(envelope: Mapping[str, Any]) -> str:
    """The rejected message for a reader: its text, or its bytes when not UTF-8; shortened,
    and said so when the dead letter holds only its start (`truncated`)."""
    if envelope["original"] is None:
        return "(none: a tombstone)"
    raw = base64.b64decode(envelope["original"])
    if not raw:
        return "(empty)"
    text = envelope.get("original_text")
    shown = printable(text) if isinstance(text, str) else repr(raw)
    size = envelope.get("original_bytes", len(raw))
    if envelope.get("truncated"):
        return f"{shown[:ORIGINAL_SHOWN]}... (cut: {size:,} bytes in all)"
    if len(shown) > ORIGINAL_SHOWN:
        return f"{shown[:ORIGINAL_SHOWN]}... ({size:,} bytes in all)"
    return shown
