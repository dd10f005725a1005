"""Change messages, typed, and their wire form (schemas/segment-change.schema.json)."""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import orjson

Reason = Literal["event", "profile", "time", "rules"]
Direction = Literal["entered", "exited"]

# Named tuples rather than frozen dataclasses: as immutable and as typed, but a frozen
# dataclass sets each field through object.__setattr__, which costs more than the rest of
# producing a change (docs/engine.md, "Performance"). `to_json` is the wire form: orjson
# would write a tuple as an array, and `from` is a keyword.


class SegmentChange(NamedTuple):
    """A contact entered or left a segment."""

    contact_id: str
    segment: str
    change: Direction
    at: str  # RFC 3339, the event-time instant of the change
    reason: Reason
    cause_event_id: str | None  # None for reasons time and rules
    rules_version: str
    seq: int  # per contact: 1, 2, 3, ... over all its change messages
    holdout: bool

    @property
    def kind(self) -> Literal["segment"]:
        return "segment"

    def to_json(self) -> dict[str, Any]:
        """The message as a JSON object, its keys in the order they are published."""
        return {
            "kind": "segment",
            "contact_id": self.contact_id,
            "segment": self.segment,
            "change": self.change,
            "at": self.at,
            "reason": self.reason,
            "cause_event_id": self.cause_event_id,
            "rules_version": self.rules_version,
            "seq": self.seq,
            "holdout": self.holdout,
        }


class LifecycleChange(NamedTuple):
    """A contact's lifecycle stage changed; `from_` is published as `from`."""

    contact_id: str
    from_: str | None
    to: str | None
    at: str
    reason: Reason
    cause_event_id: str | None
    rules_version: str
    seq: int

    @property
    def kind(self) -> Literal["lifecycle"]:
        return "lifecycle"

    def to_json(self) -> dict[str, Any]:
        """The message as a JSON object, its keys in the order they are published."""
        return {
            "kind": "lifecycle",
            "contact_id": self.contact_id,
            "from": self.from_,
            "to": self.to,
            "at": self.at,
            "reason": self.reason,
            "cause_event_id": self.cause_event_id,
            "rules_version": self.rules_version,
            "seq": self.seq,
        }


Change = SegmentChange | LifecycleChange


def encode(change: Change) -> bytes:
    """The published bytes of one change message."""
    return orjson.dumps(change.to_json())


def from_json(obj: Any) -> Change:
    """The change a published JSON object describes (as read back from the topic).

    Raises ValueError when `obj` is not a change message.
    """
    try:
        kind = obj["kind"]
        if kind == "segment":
            return SegmentChange(
                obj["contact_id"],
                obj["segment"],
                obj["change"],
                obj["at"],
                obj["reason"],
                obj["cause_event_id"],
                obj["rules_version"],
                obj["seq"],
                obj["holdout"],
            )
        if kind == "lifecycle":
            return LifecycleChange(
                obj["contact_id"],
                obj["from"],
                obj["to"],
                obj["at"],
                obj["reason"],
                obj["cause_event_id"],
                obj["rules_version"],
                obj["seq"],
            )
    except (KeyError, TypeError) as error:
        raise ValueError(f"not a change message: {obj!r:.200}") from error
    raise ValueError(f"not a change message: unknown kind {kind!r:.50}")


def decode(data: bytes | str) -> Change:
    """The change published as `data`; raises ValueError when it is not one."""
    return from_json(orjson.loads(data))
