"""Bytes on the wire: change messages with CloudEvents headers, and dead-letter envelopes."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson

from stream.core import changes
from stream.core.changes import Change, LifecycleChange
from stream.core.timefmt import format_ts

Headers = list[tuple[str, bytes]]

CE_SOURCE = "urn:segstream:worker"
_CE_SPECVERSION = b"1.0"
_CE_CONTENT_TYPE = b"application/json"
# Kafka's default limit on a record is 1 MiB (the broker's `message.max.bytes`); this leaves
# room for the key and the record batch's own framing.
MAX_DEAD_LETTER_BYTES = 1_000_000
# Below this the envelope without its original might not fit: a 1000-character detail may
# take 6 bytes a character once escaped, and a topic name 249.
MIN_DEAD_LETTER_BYTES = 16_384
DETAIL_CHARS = 1000  # a longer detail (an exception's message, say) is cut


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
    original: bytes | None,
    at_us: int,
    max_bytes: int = MAX_DEAD_LETTER_BYTES,
) -> bytes:
    """The envelope of schemas/dead-letter.schema.json for one rejected input message.

    It is at most `max_bytes` long (at least `MIN_DEAD_LETTER_BYTES`): an original too long
    for that is cut, and `truncated`; `original_bytes` and `original_sha256` always describe
    the whole of it. A tombstone (`original` None) has `original` null.
    """
    if len(detail) > DETAIL_CHARS:
        detail = detail[:DETAIL_CHARS] + "..."
    body: dict[str, Any] = {
        "reason": reason,
        "detail": detail,
        "source": {"topic": topic, "partition": partition, "offset": offset},
        "original": None,
        "original_text": None,
        "original_bytes": 0 if original is None else len(original),
        "original_sha256": None if original is None else hashlib.sha256(original).hexdigest(),
        "truncated": False,
        "at": format_ts(at_us),
    }
    if original is None:
        return orjson.dumps(body)
    kept = len(original)
    while True:
        part = original[:kept]
        cut = kept < len(original)
        body["original"] = base64.b64encode(part).decode("ascii")
        body["original_text"] = _text(part, cut)
        body["truncated"] = cut
        envelope = orjson.dumps(body)
        if len(envelope) <= max_bytes or kept == 0:
            return envelope
        # Shrink in proportion to the excess, and by at least a byte: a few rounds at most.
        kept = min(kept - 1, int(kept * max_bytes / len(envelope) * 0.98))


def _text(part: bytes, cut: bool) -> str | None:
    """`part` as UTF-8 text; when it was cut, without a last character the cut split."""
    try:
        return part.decode("utf-8")
    except UnicodeDecodeError as error:
        if cut and error.reason == "unexpected end of data":
            return part[: error.start].decode("utf-8")
        return None
