"""Dead-letter envelopes: always within their limit, always saying what the whole original was."""

from __future__ import annotations

import base64
import hashlib

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.app.codecs import MIN_DEAD_LETTER_BYTES, encode_dead_letter
from tests.support.strategies import profile

ORIGINALS = st.one_of(
    st.binary(max_size=2000),
    st.text(max_size=500).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from([b"\x01", b"\xe2\x82\xac", "\U0001f600".encode(), b'"\\', b"\xff"]).flatmap(
        lambda unit: st.integers(1, 60_000).map(lambda n: unit * n)
    ),
)


def _envelope(original: bytes | None, max_bytes: int, detail: str = "why") -> bytes:
    return encode_dead_letter(
        reason="not_json",
        detail=detail,
        topic="t" * 249,
        partition=3,
        offset=9,
        original=original,
        at_us=0,
        max_bytes=max_bytes,
    )


@given(original=ORIGINALS, max_bytes=st.integers(MIN_DEAD_LETTER_BYTES, 200_000),
       detail=st.text(max_size=3000))  # fmt: skip
@settings(profile(), max_examples=max(1, profile().max_examples // 3))
def test_an_envelope_fits_and_describes_the_whole_original(
    original: bytes, max_bytes: int, detail: str
) -> None:
    envelope = _envelope(original, max_bytes, detail)
    assert len(envelope) <= max_bytes
    letter = orjson.loads(envelope)
    kept = base64.b64decode(letter["original"])
    assert letter["original_bytes"] == len(original)
    assert letter["original_sha256"] == hashlib.sha256(original).hexdigest()
    assert original.startswith(kept)
    assert letter["truncated"] is (len(kept) < len(original))
    whole = len(_envelope(original, 1 << 40, detail))
    assert letter["truncated"] is (whole > max_bytes)  # cut only what would not fit
    text = letter["original_text"]
    if text is not None:
        assert kept.startswith(text.encode("utf-8", "surrogatepass"))
        assert len(kept) - len(text.encode("utf-8", "surrogatepass")) < 4  # a split character
    assert len(letter["detail"]) <= 1003


def test_the_issue_payload_of_control_bytes_fits() -> None:
    original = b'{"event_id": "' + b"\x01" * 180_000 + b'"}'
    envelope = _envelope(original, 1_000_000)
    letter = orjson.loads(envelope)
    assert len(envelope) <= 1_000_000 and letter["truncated"]
    assert letter["original_text"].startswith('{"event_id": "\x01')


@pytest.mark.parametrize(("original", "text"), [(b"", ""), (b"ok", "ok"), (b"\xff", None)])
def test_short_originals_are_kept_whole(original: bytes, text: str | None) -> None:
    letter = orjson.loads(_envelope(original, MIN_DEAD_LETTER_BYTES))
    assert base64.b64decode(letter["original"]) == original
    assert (letter["original_text"], letter["truncated"]) == (text, False)


def test_a_tombstone_has_no_original() -> None:
    letter = orjson.loads(_envelope(None, MIN_DEAD_LETTER_BYTES))
    assert letter["original"] is None and letter["original_text"] is None
    assert (letter["original_bytes"], letter["original_sha256"]) == (0, None)
