"""Input events: validate one raw message into an `Event`, or say exactly why it is invalid."""

from __future__ import annotations

from typing import Any, NamedTuple, NoReturn

import orjson

from stream.core.timefmt import parse_ts
from stream.errors import InvalidInput

IDENTIFY = "identify"
MAX_CONTACT_ID = 256

# Reason codes carried by dead letters and replay's skipped-line reports.
NOT_JSON = "not_json"
NOT_OBJECT = "not_object"
MISSING_FIELD = "missing_field"
WRONG_TYPE = "wrong_type"
BAD_TIMESTAMP = "bad_timestamp"
KEY_MISMATCH = "key_mismatch"
TOO_FAR_IN_FUTURE = "too_far_in_future"
TOO_LARGE = "too_large"

_REQUIRED_STRINGS = ("event_id", "contact_id", "type", "timestamp")


class Event(NamedTuple):
    """A valid behaviour event or identify; `ts` is microseconds since the epoch."""

    event_id: str
    contact_id: str
    type: str
    ts: int
    properties: dict[str, Any]
    traits: dict[str, Any]


def parse_event(
    raw: bytes | str,
    *,
    key: bytes | None = None,
    max_bytes: int | None = None,
    max_future_us: int | None = None,
    now_us: int | None = None,
) -> Event:
    """Decode and validate one message; raise InvalidInput with a reason code otherwise.

    `key`, when given, must equal the contact id. `max_future_us` with `now_us` rejects
    timestamps further ahead of `now_us` than that tolerance.
    """
    if max_bytes is not None and len(raw) > max_bytes:
        raise InvalidInput(TOO_LARGE, f"message is {len(raw)} bytes, the limit is {max_bytes}")
    event = decode_event(raw)
    if key is not None:
        check_key(key, event)
    if max_future_us is not None and now_us is not None and event.ts > now_us + max_future_us:
        raise InvalidInput(
            TOO_FAR_IN_FUTURE,
            f"timestamp {event.ts} us is more than {max_future_us} us ahead of now",
        )
    return event


def check_key(key: bytes | None, event: Event) -> None:
    """Raise InvalidInput (KEY_MISMATCH) unless the message key is the event's contact id."""
    if key != event.contact_id.encode():
        shown = (key or b"").decode("utf-8", "replace")
        raise InvalidInput(
            KEY_MISMATCH, f"message key {shown!r} differs from contact_id {event.contact_id!r}"
        )


def decode_event(raw: bytes | str) -> Event:
    """Decode and validate one message with no size, key or clock checks (replay's case)."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(NOT_JSON, f"not valid JSON: {exc}") from None
    return event_from_object(obj)


def event_from_object(obj: object) -> Event:
    """Validate an already-decoded JSON value as an event."""
    if type(obj) is not dict:
        raise InvalidInput(NOT_OBJECT, f"expected a JSON object, got {type(obj).__name__}")
    get = obj.get
    event_id, contact_id, kind, stamp = (
        get("event_id"),
        get("contact_id"),
        get("type"),
        get("timestamp"),
    )
    if not (
        type(event_id) is str
        and type(contact_id) is str
        and type(kind) is str
        and type(stamp) is str
    ):
        _explain_fields(obj)
    if not 0 < len(contact_id) <= MAX_CONTACT_ID:
        raise InvalidInput(WRONG_TYPE, "field 'contact_id' must be 1 to 256 characters")
    try:
        ts = parse_ts(stamp)
    except (ValueError, OverflowError) as exc:
        raise InvalidInput(BAD_TIMESTAMP, str(exc)) from None
    properties = get("properties")
    traits = get("traits")
    if type(properties) is not dict:
        properties = _optional_object(obj, "properties")
    if traits is None and kind != IDENTIFY:  # most events: no call for the usual case
        traits = {}
    elif type(traits) is not dict:
        if kind == IDENTIFY and traits is None:
            raise InvalidInput(MISSING_FIELD, "an identify event needs a 'traits' object")
        traits = _optional_object(obj, "traits")
    return Event(event_id, contact_id, kind, ts, properties, traits)


def _explain_fields(obj: dict[str, Any]) -> NoReturn:
    for name in _REQUIRED_STRINGS:
        value = obj.get(name)
        if value is None:
            raise InvalidInput(MISSING_FIELD, f"required field {name!r} is missing")
        if not isinstance(value, str):
            raise InvalidInput(WRONG_TYPE, f"field {name!r} must be a string")
    raise AssertionError("unreachable: every required field is a string")


def _optional_object(obj: dict[str, Any], name: str) -> dict[str, Any]:
    value = obj.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(WRONG_TYPE, f"field {name!r} must be an object")
    return value
