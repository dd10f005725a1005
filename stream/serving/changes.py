"""Change messages of segment-changes as the arguments of the materialiser's Lua step."""

from __future__ import annotations

import re
from typing import Any

import orjson

from stream.core.timefmt import parse_ts
from stream.errors import InvalidInput
from stream.serving.keys import encode_since

_SEGMENT_ID = re.compile(r"^[a-z0-9_]{1,64}$")

# contact, seq, op, segment or stage, value: `2 * since_us + holdout` for an entry, `at` in
# microseconds for an exit or a stage move ("" when it has none: kept out of the history).
ChangeArgs = tuple[str, str, str, str, str]


def change_args(value: bytes | None) -> ChangeArgs:
    """The five script arguments of one change message; InvalidInput when it is not one."""
    if value is None:
        raise InvalidInput("empty", "the message has no value (a tombstone?)")
    try:
        change: Any = orjson.loads(value)
    except orjson.JSONDecodeError as error:
        raise InvalidInput("not_json", str(error)) from None
    if not isinstance(change, dict):
        raise InvalidInput("not_object", "a change message is a JSON object")
    contact, seq = change.get("contact_id"), change.get("seq")
    if not isinstance(contact, str) or not 1 <= len(contact) <= 256:
        raise InvalidInput("bad_contact_id", "contact_id must be a string of 1-256 characters")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise InvalidInput("bad_seq", "seq must be an integer of at least 1")
    kind = change.get("kind")
    if kind == "lifecycle":
        stage = change.get("to")
        if stage is not None and (not isinstance(stage, str) or not stage):
            raise InvalidInput("bad_stage", "`to` must be a stage name or null")
        return contact, str(seq), "L", stage or "", _at_us(change)
    if kind != "segment":
        raise InvalidInput("bad_kind", "kind must be segment or lifecycle")
    segment = change.get("segment")
    if not isinstance(segment, str) or _SEGMENT_ID.match(segment) is None:
        raise InvalidInput("bad_segment", "segment must match ^[a-z0-9_]{1,64}$")
    what = change.get("change")
    if what == "exited":
        return contact, str(seq), "-", segment, _at_us(change)
    if what != "entered":
        raise InvalidInput("bad_change", "change must be entered or exited")
    at, holdout = change.get("at"), change.get("holdout", False)
    if not isinstance(at, str):
        raise InvalidInput("bad_at", "at must be an RFC 3339 timestamp")
    if not isinstance(holdout, bool):
        raise InvalidInput("bad_holdout", "holdout must be true or false")
    try:
        since = parse_ts(at)
    except ValueError as error:
        raise InvalidInput("bad_at", str(error)) from None
    return contact, str(seq), "+", segment, encode_since(since, holdout)


def _at_us(change: dict[str, Any]) -> str:
    """`at` in microseconds, or "" when it is missing or malformed (the history skips it)."""
    at = change.get("at")
    try:
        return str(parse_ts(at)) if isinstance(at, str) else ""
    except ValueError:
        return ""
