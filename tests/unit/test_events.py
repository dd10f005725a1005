"""Input validation: every invalid kind gets its reason code."""

from __future__ import annotations

import pytest

from stream.core.events import check_key, parse_event
from stream.errors import InvalidInput

GOOD = b'{"event_id":"e1","contact_id":"c1","type":"page_view","timestamp":"2026-11-20T10:00:00Z"}'


def test_valid_event() -> None:
    event = parse_event(GOOD, key=b"c1")
    assert (event.event_id, event.contact_id, event.type) == ("e1", "c1", "page_view")
    assert event.properties == {}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not_json"),
        (b"[1, 2]", "not_object"),
        (b'{"contact_id":"c1","type":"x","timestamp":"2026-11-20T10:00:00Z"}', "missing_field"),
        (
            b'{"event_id":7,"contact_id":"c1","type":"x","timestamp":"2026-11-20T10:00:00Z"}',
            "wrong_type",
        ),
        (
            b'{"event_id":"e","contact_id":"","type":"x","timestamp":"2026-11-20T10:00:00Z"}',
            "wrong_type",
        ),
        (
            b'{"event_id":"e","contact_id":"c1","type":"x","timestamp":"2026-11-20T10:00:00"}',
            "bad_timestamp",
        ),
        (b'{"event_id":"e","contact_id":"c1","type":"x","timestamp":"soon"}', "bad_timestamp"),
        (
            b'{"event_id":"e","contact_id":"c1","type":"x","timestamp":"2026-11-20T10:00:00Z",'
            b'"properties":[]}',
            "wrong_type",
        ),
        (
            b'{"event_id":"e","contact_id":"c1","type":"identify","timestamp":"2026-11-20T10:00:00Z"}',
            "missing_field",
        ),
    ],
)
def test_invalid(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_event(raw)
    assert caught.value.reason == reason


def test_key_must_match_contact() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_event(GOOD, key=b"c2")
    assert caught.value.reason == "key_mismatch"


@pytest.mark.parametrize(
    ("key", "detail"),
    [
        (b"c2", "message key 'c2' differs from contact_id 'c1'"),
        (None, "message key '' differs from contact_id 'c1'"),
        (b"", "message key '' differs from contact_id 'c1'"),
    ],
)
def test_check_key_says_which_key_differs(key: bytes | None, detail: str) -> None:
    event = parse_event(GOOD)
    check_key(b"c1", event)
    with pytest.raises(InvalidInput) as caught:
        check_key(key, event)
    assert (caught.value.reason, caught.value.detail) == ("key_mismatch", detail)


def test_future_tolerance_and_size() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_event(GOOD, max_future_us=1_000_000, now_us=0)
    assert caught.value.reason == "too_far_in_future"
    with pytest.raises(InvalidInput) as caught:
        parse_event(GOOD, max_bytes=10)
    assert caught.value.reason == "too_large"
