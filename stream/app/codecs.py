"""Bytes on the wire: change messages with CloudEvents headers, and dead-letter envelopes."""

from __future__ import annotations

import base64

import orjson

from stream.core import changes
from stream.core.changes import Change, LifecycleChange
from stream.core.timefmt import format_ts

Headers = list[tuple[str, bytes]]

CE_SOURCE = "urn:segstream:worker"
_CE_SPECVERSION = b"1.0"
_CE_CONTENT_TYPE = b"application/json"


def change_type(change: Change) -> str:
    """The CloudEvents type of a change: segment.entered, segment.exited, lifecycle.changed."""
    if isinstance(change, LifecycleChange):
        return "lifecycle.changed"
    return f"segment.{change.change}"


def change_id(change: Change) -> str:
    """A stable id per change: the same change redelivered after a crash keeps its id."""
    return f"{change.contact_id}:{change.seq}"


def encode_change(change: Change, source: str = CE_SOURCE) -> tuple[bytes, bytes, Headers]:
    """Key, value and CloudEvents binary-mode headers of one change message."""
    contact = change.contact_id.encode()
    headers: Headers = [
        ("ce_specversion", _CE_SPECVERSION),
        ("ce_id", change_id(change).encode()),
        ("ce_source", source.encode()),
        ("ce_type", change_type(change).encode()),
        ("ce_time", change.at.encode()),
        ("ce_subject", contact),
        ("content-type", _CE_CONTENT_TYPE),
    ]
    return contact, changes.encode(change), headers


def encode_dead_letter(
    *,
    reason: str,
    detail: str,
    topic: str,
    partition: int,
    offset: int,
    original: bytes,
    at_us: int,
) -> bytes:
    """The envelope of schemas/dead-letter.schema.json for one rejected input message."""
    try:
        text: str | None = original.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return orjson.dumps(
        {
            "reason": reason,
            "detail": detail,
            "source": {"topic": topic, "partition": partition, "offset": offset},
            "original": base64.b64encode(original).decode("ascii"),
            "original_text": text,
            "at": format_ts(at_us),
        }
    )
