"""Hypothesis strategies for hostile input messages: what a careless or malicious producer sends.

Sizes past every limit, deep nesting, huge and tiny numbers, any unicode, invalid UTF-8,
timestamps strict, lenient and absurd, duplicate keys, every field of the wrong type, and
bytes that are not JSON at all; mixed with valid events so that state builds up.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from stream.core.language.ast import RuleSet
from stream.core.language.loader import load_dict, load_file
from stream.core.limits import DEFAULT_LIMITS
from tests.support import EXAMPLE_RULES

LIMITS = DEFAULT_LIMITS
TYPES = ("page_view", "purchase", "content_download", "identify", "login", "demo_request")
TRAIT_KEYS = ("title", "job_title", "email", "company", "newsletter", "seniority", "abm_tier")
PROPERTY_KEYS = ("amount", "content_id", "path", "content_type", "topic")
CONTACTS = ("c1", "c2", "c3")

# Every kind of state a hostile value could land in: distinct values, sums and averages
# (windowed and all-time), extremes, scores, and a catastrophic pattern on a trait.
HOSTILE_DOC = {
    "version": 1,
    "scores": [
        {
            "id": "points",
            "rules": [
                {"event": "purchase", "where": {"amount": {"gte": 0}}, "points": 1e100},
                {"event": "page_view", "points": -1e100},
            ],
        }
    ],
    "segments": [
        {"id": "titled", "when": {"trait": "title", "matches": "(a+)+$"}},
        {"id": "company", "when": {"trait": "company.name", "exists": True}},
        {"id": "distinct_all", "when": {"event": "content_download",
                                        "distinct": {"property": "content_id", "gte": 2}}},
        {"id": "distinct_week", "when": {"event": "content_download", "within": "7d",
                                         "distinct": {"property": "content_id", "gte": 2}}},
        {"id": "spend_all", "when": {"event": "purchase",
                                     "sum": {"property": "amount", "gte": 100}}},
        {"id": "spend_day", "when": {"event": "purchase", "within": "1d",
                                     "avg": {"property": "amount", "gte": 100}}},
        {"id": "extreme", "when": {"event": "purchase", "within": "1d",
                                   "max": {"property": "amount", "gte": 1e99}}},
        {"id": "scored", "when": {"score": "points", "gte": 1}},
        {"id": "pathy", "when": {"event": "page_view", "where": {"path": {"matches": "^/p"}}}},
    ],
}  # fmt: skip
RULE_SETS: dict[str, RuleSet] = {
    "example": load_file(EXAMPLE_RULES),
    "hostile": load_dict(HOSTILE_DOC),
}

# Timestamps: most valid and close together, so that windows and deadlines fire.
_VALID_STAMPS = st.sampled_from(
    [
        "2026-11-20T10:00:00Z",
        "2026-11-20T10:00:00.5Z",
        "2026-11-20T11:00:00+01:00",
        "2026-11-21T10:00:00z",
        "2026-12-25T00:00:00-05:00",
        "2027-01-01T00:00:00Z",
        "1970-01-01T00:00:00Z",
        "2999-12-31T23:59:59.999999Z",
    ]
)
_BAD_STAMPS = st.sampled_from(
    [
        "2026-11-01T10:00:00.Z",
        "2026-11-01T10:00:00 Z",
        "2026-11-01T00:00+01:00",
        "2026-11-01T10:00:00+0100",
        "2026-11-01T10:00:00+01",
        "2026-11-01T10:00:00,5Z",
        "2026-W44-7T00:00:00Z",
        "2026-11-01T10:00:00+00:00:30",
        "9999-12-31T23:30:00-01:00",
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00+01:00",
        "0000-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "2026-02-30T00:00:00Z",
        "2026-11-01T10:00:00." + "9" * 5000 + "Z",
        "",
    ]
)


def _mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`good` four times in five (one_of would pick each about as often)."""
    return st.sampled_from(range(5)).flatmap(lambda i: bad if i == 4 else good)


def _long_text(limit: int) -> st.SearchStrategy[str]:
    """Text at, just past and far past a length limit, hostile regex bait, and long values
    that differ (distinct values that fill a contact's state)."""
    return st.sampled_from(
        [
            "x" * limit,
            "x" * (limit + 1),
            "x" * 600_000,
            "a" * 28 + "!",
            "a" * (LIMITS.match_chars - 1) + "!",
        ]
    ) | st.integers(0, 99).map(lambda n: f"{n:02d}" + "y" * (limit - 2))


SCALARS: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e308, -1e308, 1e100, -1e100, 5e-324, -0.0, 2**53 + 1]),
    st.text(max_size=20),
    st.sampled_from(["guide", "/pricing", "Senior DevOps", "security", "\u00e9cole", "\U0001f600"]),
    _long_text(LIMITS.text_chars),
)


def nested(depth: int, leaf: Any) -> Any:
    for i in range(depth):
        leaf = {"a": leaf} if i % 2 else [leaf]
    return leaf


JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.sampled_from(PROPERTY_KEYS), inner, max_size=4)
    ),
    max_leaves=12,
) | st.builds(nested, st.integers(0, 320), SCALARS)


def _objects(keys: tuple[str, ...]) -> st.SearchStrategy[Any]:
    """Traits or properties: objects with the keys rules read, or of too many values."""
    members = st.dictionaries(
        st.sampled_from(keys) | st.text(max_size=8) | _long_text(LIMITS.text_chars),
        _mostly(SCALARS, JSON_VALUES),
        max_size=5,
    )
    many = st.integers(LIMITS.values - 1, LIMITS.values + 1).map(
        lambda n: {f"k{i}": i for i in range(n)}
    )
    return _mostly(members, many)


_MISSING = object()
_WRONG = st.just(_MISSING) | JSON_VALUES  # a field missing, or of any type


@st.composite
def event_objects(draw: st.DrawFn) -> dict[str, Any]:
    """An event whose fields are mostly right, so that state builds up, with a few of them
    (often none) missing or of any other type."""
    ids = st.sampled_from(["e1", "e2", "e3", "e4"]) | st.text(min_size=1, max_size=8)
    valid = {
        "event_id": _mostly(ids, _long_text(LIMITS.event_id_chars)),
        "contact_id": _mostly(st.sampled_from(CONTACTS), _long_text(256) | st.just("")),
        "type": _mostly(st.sampled_from(TYPES), _long_text(LIMITS.text_chars)),
        "timestamp": _mostly(_VALID_STAMPS, _BAD_STAMPS | st.text(max_size=40)),
        "properties": _objects(PROPERTY_KEYS),
        "traits": _objects(TRAIT_KEYS),
    }
    wrong = draw(_mostly(st.just(set()), st.sets(st.sampled_from(sorted(valid)), max_size=2)))
    fields = {name: draw(_WRONG if name in wrong else value) for name, value in valid.items()}
    return {k: v for k, v in fields.items() if v is not _MISSING}


def _with_duplicate_key(obj: dict[str, Any], key: str, value: Any) -> bytes:
    """JSON text with `key` twice: first `value`, then the object's own."""
    first = json.dumps({key: value})[1:-1]
    rest = json.dumps(obj)[1:]
    return ("{" + first + ("," if rest != "}" else "") + rest).encode()


def _encode(obj: Any) -> bytes:
    try:
        return json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogatepass")
    except RecursionError:
        return b"[" * 100_000


@st.composite
def messages(draw: st.DrawFn) -> bytes | None:
    """One message value as the worker receives it (None is a tombstone)."""
    obj = draw(event_objects())
    raw = _encode(obj)
    # Hypothesis draws the first choice more often than the others: make it the plain one.
    how = draw(st.sampled_from(range(20)))
    if how < 15:
        return raw
    if how == 15:
        return draw(st.none() | st.just(b"") | st.just(b" \n") | st.binary(max_size=40))
    if how == 16:  # invalid UTF-8 somewhere
        at = draw(st.integers(0, len(raw)))
        junk = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\x01" * 1000]))
        return raw[:at] + junk + raw[at:]
    if how == 17:  # cut short
        return raw[: draw(st.integers(0, len(raw)))]
    if how == 18 and obj:
        key = draw(st.sampled_from(sorted(obj)))
        return _with_duplicate_key(obj, key, draw(JSON_VALUES))
    # A lone surrogate escape, which orjson refuses.
    return raw.replace(b'"c1"', b'"c\\ud800"')
