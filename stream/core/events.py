"""Input events: validate one raw message into an `Event`, or say exactly why it is invalid."""

from __future__ import annotations

from typing import Any, NamedTuple, NoReturn

import orjson

from stream.core.limits import DEFAULT_LIMITS, Limits
from stream.core.timefmt import SECOND, format_ts, parse_ts
from stream.errors import InvalidInput

IDENTIFY = "identify"

# Reason codes carried by dead letters and replay's skipped-line reports.
NOT_JSON = "not_json"
NOT_OBJECT = "not_object"
MISSING_FIELD = "missing_field"
WRONG_TYPE = "wrong_type"
BAD_TIMESTAMP = "bad_timestamp"
KEY_MISMATCH = "key_mismatch"
TOO_FAR_IN_FUTURE = "too_far_in_future"
TOO_LARGE = "too_large"
TOMBSTONE = "tombstone"
EMPTY = "empty"
EVENT_ID_TOO_LONG = "event_id_too_long"
CONTACT_ID_TOO_LONG = "contact_id_too_long"
TEXT_TOO_LONG = "text_too_long"
TOO_DEEP = "too_deep"
TOO_MANY_VALUES = "too_many_values"
NUMBER_OUT_OF_RANGE = "number_out_of_range"
TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"
# Every reason above; schemas/dead-letter.schema.json lists them (a test holds them together).
REASONS = (
    NOT_JSON,
    NOT_OBJECT,
    MISSING_FIELD,
    WRONG_TYPE,
    BAD_TIMESTAMP,
    KEY_MISMATCH,
    TOO_FAR_IN_FUTURE,
    TOO_LARGE,
    TOMBSTONE,
    EMPTY,
    EVENT_ID_TOO_LONG,
    CONTACT_ID_TOO_LONG,
    TEXT_TOO_LONG,
    TOO_DEEP,
    TOO_MANY_VALUES,
    NUMBER_OUT_OF_RANGE,
    TIMESTAMP_OUT_OF_RANGE,
)

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
    raw: bytes | str | None,
    *,
    key: bytes | None = None,
    max_bytes: int | None = None,
    max_future_us: int | None = None,
    now_us: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Event:
    """Decode and validate one message; raise InvalidInput with a reason code otherwise.

    `key`, when given, must equal the contact id. `max_future_us` with `now_us` rejects
    timestamps further ahead of `now_us` than that tolerance (`check_future`).
    """
    if raw is not None and max_bytes is not None and len(raw) > max_bytes:
        raise InvalidInput(TOO_LARGE, f"message is {len(raw)} bytes, the limit is {max_bytes}")
    event = decode_event(raw, limits)
    if key is not None:
        check_key(key, event)
    if max_future_us is not None and now_us is not None:
        check_future(event.ts, now_us, max_future_us)
    return event


def check_size(line: bytes | str, max_bytes: int) -> None:
    """Raise InvalidInput (TOO_LARGE) if a line, less its line break, passes `max_bytes`."""
    data = line.encode() if isinstance(line, str) else line
    size = len(data.removesuffix(b"\n").removesuffix(b"\r"))
    if size > max_bytes:
        raise InvalidInput(TOO_LARGE, f"message is {size} bytes, the limit is {max_bytes}")


def check_key(key: bytes | None, event: Event) -> None:
    """Raise InvalidInput (KEY_MISMATCH) unless the message key is the event's contact id."""
    if key != event.contact_id.encode():
        shown = (key or b"").decode("utf-8", "replace")
        raise InvalidInput(
            KEY_MISMATCH, f"message key {shown!r:.300} differs from contact_id {event.contact_id!r}"
        )


def check_future(ts: int, now_us: int, tolerance_us: int) -> None:
    """Reject a timestamp more than `tolerance_us` after `now_us`, the wall clock.

    The one clock rule for bad timestamps: the worker in either clock mode, and replay, give
    it the wall clock, which may be read for this check alone; event time stays the clock
    for everything else.
    """
    if ts > now_us + tolerance_us:
        raise InvalidInput(
            TOO_FAR_IN_FUTURE,
            f"timestamp {format_ts(ts)} is more than {tolerance_us // SECOND} s after "
            f"now ({format_ts(now_us)}); check the producer's clock",
        )


def decode_event(raw: bytes | str | None, limits: Limits = DEFAULT_LIMITS) -> Event:
    """Decode and validate one message with no size, key or clock checks (replay's case)."""
    if raw is None:
        raise InvalidInput(TOMBSTONE, "the message has no value (a tombstone): send an event")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if not (raw.strip(b" \t\r\n") if isinstance(raw, bytes) else raw.strip(" \t\r\n")):
            raise InvalidInput(EMPTY, "the message is empty: send one JSON object") from None
        raise InvalidInput(NOT_JSON, f"not valid JSON: {exc}") from None
    return _validate(obj, limits)


def validate_decoded(obj: object, limits: Limits = DEFAULT_LIMITS) -> Event:
    """Validate a value decoded from a message: what `decode_event` does after its decode."""
    return _validate(obj, limits)


def event_from_object(obj: object, limits: Limits = DEFAULT_LIMITS) -> Event:
    """Validate an already-decoded JSON value (or one built in Python) as an event."""
    event = _validate(obj, limits)
    assert type(obj) is dict  # _validate has checked it
    _check_encodable(obj)
    return event


def _validate(obj: object, limits: Limits) -> Event:
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
    if (
        len(event_id) > limits.event_id_chars
        or not 0 < len(contact_id) <= limits.contact_id_chars
        or len(kind) > limits.text_chars
    ):  # one test for the usual case; the function says which limit
        _check_identifiers(event_id, contact_id, kind, limits)
    try:
        ts = parse_ts(stamp)
    except ValueError as exc:
        raise InvalidInput(BAD_TIMESTAMP, str(exc)) from None
    if not limits.earliest_us <= ts < limits.latest_us:
        raise InvalidInput(
            TIMESTAMP_OUT_OF_RANGE,
            f"timestamp {stamp!r:.64} ({format_ts(ts)} in UTC) is outside the accepted range, "
            f"from {format_ts(limits.earliest_us)} to before {format_ts(limits.latest_us)}",
        )
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
    if properties:
        check_values(properties, "properties", limits)
    if traits:
        check_values(traits, "traits", limits)
    # The same tuple as Event(...), without the Python-level __new__ that NamedTuple generates.
    return tuple.__new__(Event, (event_id, contact_id, kind, ts, properties, traits))


def _check_identifiers(event_id: str, contact_id: str, kind: str, limits: Limits) -> None:
    if len(event_id) > limits.event_id_chars:
        raise InvalidInput(
            EVENT_ID_TOO_LONG,
            f"event_id is {len(event_id)} characters, the limit is {limits.event_id_chars}",
        )
    if not contact_id:
        raise InvalidInput(
            WRONG_TYPE, f"field 'contact_id' must be 1 to {limits.contact_id_chars} characters"
        )
    if len(contact_id) > limits.contact_id_chars:
        raise InvalidInput(
            CONTACT_ID_TOO_LONG,
            f"contact_id is {len(contact_id)} characters, the limit is {limits.contact_id_chars}",
        )
    if len(kind) > limits.text_chars:
        raise InvalidInput(
            TEXT_TOO_LONG, f"type is {len(kind)} characters, the limit is {limits.text_chars}"
        )


# One container being checked: (the object or list, its depth, the frame holding it).
_Frame = tuple[Any, int, Any]


def check_values(top: dict[str, Any], name: str, limits: Limits = DEFAULT_LIMITS) -> None:
    """Raise InvalidInput unless `top` (traits or properties, called `name`) is within
    `limits`: strings and keys, numbers, nesting depth and the number of values."""
    text_chars, magnitude = limits.text_chars, limits.number_magnitude
    left = limits.values - len(top)
    if left < 0:
        _too_many(name, limits)
    # The top level on its own, as `_walk` would take it: most traits and properties are a few
    # scalars, and those need no stack. Top-level keys are the names rules read by; only keys
    # below them are stored, so they are not checked.
    top_frame: _Frame = (top, 1, None)
    stack: list[_Frame] = []
    for value in top.values():
        kind = type(value)
        if kind is str:
            if len(value) > text_chars:
                _text_too_long(top_frame, name, value, text_chars)
        elif kind is int or kind is float:
            if not -magnitude <= value <= magnitude:  # also false for NaN
                _out_of_range(top_frame, name, value, magnitude)
        elif kind is dict or kind is list:
            stack.append((value, 2, top_frame))
        elif value is not None and kind is not bool:
            _not_json(top_frame, name, value)
    if stack:
        _walk(stack, left, name, limits)


def _walk(stack: list[_Frame], left: int, name: str, limits: Limits) -> None:
    """Check the containers on `stack`, with `left` values still allowed."""
    text_chars, magnitude, max_depth = limits.text_chars, limits.number_magnitude, limits.depth
    # A stack, not recursion: a value built in Python may nest deeper than recursion goes.
    # Paths are worked out only for a message: this runs for every event.
    while stack:
        frame = stack.pop()
        node, depth, _ = frame
        if depth > max_depth:
            where = _where(frame, name)
            raise InvalidInput(TOO_DEEP, f"{where}: nests deeper than the limit of {max_depth}")
        left -= len(node)
        if left < 0:
            _too_many(name, limits)
        if type(node) is dict:
            for key in node:
                if type(key) is not str or len(key) > text_chars:
                    _bad_key(key, _where(frame, name), text_chars)
            values = node.values()
        else:
            values = node
        for value in values:
            kind = type(value)
            if kind is str:
                if len(value) > text_chars:
                    _text_too_long(frame, name, value, text_chars)
            elif kind is int or kind is float:
                if not -magnitude <= value <= magnitude:  # also false for NaN
                    _out_of_range(frame, name, value, magnitude)
            elif kind is dict or kind is list:
                stack.append((value, depth + 1, frame))
            elif value is not None and kind is not bool:
                _not_json(frame, name, value)


def _too_many(name: str, limits: Limits) -> NoReturn:
    raise InvalidInput(
        TOO_MANY_VALUES, f"{name}: holds more than the limit of {limits.values} values"
    )


def _text_too_long(frame: _Frame, name: str, value: str, text_chars: int) -> NoReturn:
    raise InvalidInput(
        TEXT_TOO_LONG,
        f"{_where(frame, name, value)}: {len(value)} characters, the limit is {text_chars}",
    )


def _out_of_range(frame: _Frame, name: str, value: float, magnitude: float) -> NoReturn:
    raise InvalidInput(
        NUMBER_OUT_OF_RANGE,
        f"{_where(frame, name, value)}: a number must be finite and at most {magnitude:g} in size",
    )


def _not_json(frame: _Frame, name: str, value: object) -> NoReturn:
    where = _where(frame, name, value)
    raise InvalidInput(WRONG_TYPE, f"{where}: {type(value).__name__} is not a JSON value")


def _where(frame: _Frame, name: str, value: Any = None) -> str:
    """The path of `value` (or of the frame's container) from `name`, for a message."""
    labels: list[str] = []
    child = value
    while frame is not None:
        node, _, parent = frame
        if child is not None:
            members = node.items() if type(node) is dict else enumerate(node)
            label = next(k for k, v in members if v is child)
            labels.append(f"[{label}]" if type(label) is int else f".{label:.40}")
        child, frame = node, parent
    return name + "".join(reversed(labels))


def _bad_key(key: object, where: str, text_chars: int) -> NoReturn:
    if type(key) is not str:
        raise InvalidInput(WRONG_TYPE, f"{where}: keys must be strings, got {key!r:.40}")
    raise InvalidInput(
        TEXT_TOO_LONG, f"{where}: a key of {len(key)} characters, the limit is {text_chars}"
    )


def _check_encodable(obj: dict[str, Any]) -> None:
    """A value built in Python may hold what no JSON decoder produces (a lone surrogate, an
    int beyond 64 bits, a key that is not a string) and could then not be stored."""
    try:
        orjson.dumps(obj)
    except orjson.JSONEncodeError as exc:
        raise InvalidInput(WRONG_TYPE, f"not JSON: {exc}") from None


def _explain_fields(obj: dict[str, Any]) -> NoReturn:
    for name in _REQUIRED_STRINGS:
        value = obj.get(name)
        if value is None:
            raise InvalidInput(MISSING_FIELD, f"required field {name!r} is missing")
        if type(value) is not str:
            raise InvalidInput(WRONG_TYPE, f"field {name!r} must be a string")
    raise AssertionError("unreachable: every required field is a string")


def _optional_object(obj: dict[str, Any], name: str) -> dict[str, Any]:
    value = obj.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(WRONG_TYPE, f"field {name!r} must be an object")
    return value
