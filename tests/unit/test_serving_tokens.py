"""Serving's pure pieces: position tokens, cursors, change decoding, key partitioning."""

from __future__ import annotations

import orjson
import pytest
from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from stream.errors import InvalidInput
from stream.serving.changes import change_args
from stream.serving.keys import decode_since, encode_since, partition_of, prefix
from stream.serving.tokens import (
    decode_cursor,
    encode_cursor,
    format_position,
    parse_position,
    reached,
)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("", {}), ("3:1200", {3: 1200}), ("0:1,1:2", {0: 1, 1: 2}), ("0:5,0:2", {0: 5}),
     (" 2:7 ", {2: 7})],
)  # fmt: skip
def test_positions_parse(text: str, parsed: dict[int, int]) -> None:
    assert parse_position(text) == parsed


@pytest.mark.parametrize("text", ["1", "a:b", "0:1,", "-1:3", "1:-3", "1:2:3", "0:" + "9" * 20])
def test_bad_positions_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_position(text)


@pytest.mark.parametrize(
    ("current", "wanted", "ok"),
    [({0: 5}, {0: 5}, True), ({0: 5}, {0: 6}, False), ({0: 5}, {1: 0}, False),
     ({0: 5, 1: 3}, {}, True), ({}, {}, True)],
)  # fmt: skip
def test_reached(current: dict[int, int], wanted: dict[int, int], ok: bool) -> None:
    assert reached(current, wanted) is ok


@given(st.dictionaries(st.integers(0, 999), st.integers(0, 10**12)))
def test_a_position_token_round_trips(offsets: dict[int, int]) -> None:
    assert parse_position(format_position(offsets)) == offsets


@given(st.text(min_size=1, max_size=256))
def test_cursors_round_trip(contact: str) -> None:
    try:
        contact.encode()
    except UnicodeEncodeError:
        return
    assert decode_cursor(encode_cursor(contact)) == contact


@pytest.mark.parametrize("cursor", ["", "%%", "Zm9v!", "A", "A" * 1400, "_w", "Zm9vYg="])
def test_bad_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(ValueError):
        decode_cursor(cursor)


@given(st.integers(-(2**60), 2**60), st.booleans())
def test_since_and_holdout_round_trip(since: int, holdout: bool) -> None:
    assert decode_since(encode_since(since, holdout).encode()) == (since, holdout)


@given(st.text(min_size=1, max_size=50), st.integers(1, 64))
def test_partition_of_is_kafkas_default_partitioner(contact: str, partitions: int) -> None:
    try:
        key = contact.encode()
    except UnicodeEncodeError:
        return
    every = list(range(partitions))
    assert partition_of(contact, partitions) == DefaultPartitioner()(key, every, every)


def test_every_key_of_a_partition_shares_one_hash_tag() -> None:
    assert prefix("segstream", 7) == "{segstream:p7}:"


def _message(**fields: object) -> bytes:
    change = {"kind": "segment", "contact_id": "c-1", "segment": "mql", "change": "entered",
              "at": "2026-11-20T10:00:00Z", "seq": 3, "holdout": True}  # fmt: skip
    change.update(fields)
    return orjson.dumps({k: v for k, v in change.items() if v is not ...})


def test_change_messages_become_script_arguments() -> None:
    contact, seq, op, name, value = change_args(_message())
    assert (contact, seq, op, name) == ("c-1", "3", "+", "mql")
    assert decode_since(value.encode()) == (1_795_168_800_000_000, True)
    at = "1795168800000000"  # an exit or a stage move carries `at` for the history
    assert change_args(_message(change="exited")) == ("c-1", "3", "-", "mql", at)
    assert change_args(_message(change="exited", at=...)) == ("c-1", "3", "-", "mql", "")
    lifecycle = orjson.dumps({"kind": "lifecycle", "contact_id": "c-1", "to": None, "seq": 4})
    assert change_args(lifecycle) == ("c-1", "4", "L", "", "")
    moved = {
        "kind": "lifecycle",
        "contact_id": "c-1",
        "to": "mql",
        "seq": 5,
        "at": "2026-11-20T10:00:00Z",
    }
    assert change_args(orjson.dumps(moved)) == ("c-1", "5", "L", "mql", at)


@pytest.mark.parametrize(
    ("value", "reason"),
    [(None, "empty"), (b"{", "not_json"), (b"[1]", "not_object"),
     (_message(contact_id=""), "bad_contact_id"), (_message(seq=0), "bad_seq"),
     (_message(seq=True), "bad_seq"), (_message(kind="other"), "bad_kind"),
     (_message(segment="Has Caps"), "bad_segment"), (_message(change="left"), "bad_change"),
     (_message(at="yesterday"), "bad_at"), (_message(holdout="no"), "bad_holdout"),
     (_message(at=...), "bad_at")],
)  # fmt: skip
def test_messages_that_are_not_changes_are_refused(value: bytes | None, reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        change_args(value)
    assert caught.value.reason == reason
