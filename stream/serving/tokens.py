"""The API's string tokens: positions (applied offset per partition) and member-page cursors."""

from __future__ import annotations

import base64
import binascii
import re

_POSITION_PART = re.compile(r"^(\d{1,9}):(\d{1,19})$")
_CURSOR = re.compile(r"^[A-Za-z0-9_-]{1,1368}$")  # 256 characters, up to 1024 bytes


def format_position(offsets: dict[int, int]) -> str:
    """``partition:offset`` pairs, comma-separated in partition order (empty: nothing applied)."""
    return ",".join(f"{p}:{o}" for p, o in sorted(offsets.items()))


def parse_position(text: str) -> dict[int, int]:
    """A position token, or a single ``partition:offset``; ValueError if it is neither."""
    wanted: dict[int, int] = {}
    if not text:
        return wanted
    for part in text.split(","):
        match = _POSITION_PART.match(part.strip())
        if match is None:
            raise ValueError(
                f"{part!r} is not partition:offset (write e.g. 3:1200, or a position token)"
            )
        partition, offset = int(match.group(1)), int(match.group(2))
        wanted[partition] = max(offset, wanted.get(partition, offset))
    return wanted


def reached(current: dict[int, int], wanted: dict[int, int]) -> bool:
    """Whether every partition of `wanted` has applied at least its offset."""
    return all(current.get(p, -1) >= o for p, o in wanted.items())


def encode_cursor(contact_id: str) -> str:
    """The cursor after `contact_id`: its UTF-8 bytes in unpadded URL-safe base64."""
    return base64.urlsafe_b64encode(contact_id.encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> str:
    """The contact id a cursor stands for; ValueError if it is not a cursor of this API."""
    if _CURSOR.match(cursor) is None:
        raise ValueError("not a cursor of this API (pass the `next` of an earlier page)")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        contact_id = raw.decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError("not a cursor of this API (pass the `next` of an earlier page)") from None
    if not 1 <= len(contact_id) <= 256 or encode_cursor(contact_id) != cursor:
        raise ValueError("not a cursor of this API (pass the `next` of an earlier page)")
    return contact_id
