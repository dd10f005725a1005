"""The JSON Schemas: valid draft 2020-12 with working examples, the messages of events.md, and
the definitions schema agreeing with the loader's own structural checks."""

from __future__ import annotations

import base64
import copy
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from stream.core.language import ast
from stream.core.language.durations import PATTERN as DURATION_PATTERN
from stream.core.language.loader import load_dict
from stream.core.language.validate_conditions import AGGREGATES, EVENT_OPTIONS, KINDS
from stream.core.language.validate_context import NAME_PATTERN, PATH_PATTERN, Context
from stream.core.language.validate_document import parse_document
from stream.core.language.validate_schema import (
    CONTACT_EVENT,
    DEAD_LETTER,
    DEFINITIONS,
    SEGMENT_CHANGE,
    load_schema,
    schema_problems,
    validator,
)
from stream.core.language.validate_syntax import check_plain
from stream.core.language.validate_values import NUMERIC_OPERATORS, STAGE_OPERATORS, VALUE_OPERATORS
from stream.errors import DefinitionError, Problem
from tests.support import EXAMPLE_RULES
from tests.unit.test_loader import ERRORS

SCHEMAS = [DEFINITIONS, CONTACT_EVENT, SEGMENT_CHANGE, DEAD_LETTER]
ROOT = Path(__file__).resolve().parents[2]


# --- the schemas themselves ---------------------------------------------------------------


@pytest.mark.parametrize("name", SCHEMAS)
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://segstream.dev/schemas/{name}"
    assert schema["title"] and schema["description"]
    assert schema["examples"]


@pytest.mark.parametrize(
    ("name", "index"),
    [(name, i) for name in SCHEMAS for i in range(len(load_schema(name)["examples"]))],
)
def test_examples_validate(name: str, index: int) -> None:
    example = load_schema(name)["examples"][index]
    assert list(validator(name).iter_errors(example)) == []


def test_schemas_are_shipped_with_the_package() -> None:
    """stream/schemas is a link to schemas/, so the installed package reads the same files."""
    for name in SCHEMAS:
        assert (ROOT / "stream" / "schemas" / name).read_bytes() == (
            ROOT / "schemas" / name
        ).read_bytes()


def test_definitions_schema_uses_the_loader_vocabulary() -> None:
    """The schema and the hand-written checks name the same operators, keys and patterns."""
    defs = load_schema(DEFINITIONS)["$defs"]
    assert defs["name"]["pattern"] == NAME_PATTERN
    assert defs["path"]["pattern"] == PATH_PATTERN
    assert defs["duration"]["pattern"] == DURATION_PATTERN
    value_ops = set(defs["valueTest"]["properties"]) - {"ignore_case"}
    assert value_ops == set(VALUE_OPERATORS) == ast.VALUE_OPS
    assert set(defs["numericTest"]["properties"]) == set(NUMERIC_OPERATORS) == ast.NUMERIC_OPS
    assert set(defs["stageTest"]["properties"]) == set(STAGE_OPERATORS) == ast.STAGE_OPS
    assert [branch["required"][0] for branch in defs["condition"]["anyOf"]] == list(KINDS)
    assert set(defs["eventCondition"]["properties"]) == set(EVENT_OPTIONS)
    assert tuple(AGGREGATES) == ast.AGGREGATES


def test_example_definitions_validate() -> None:
    document = yaml.safe_load(EXAMPLE_RULES.read_text())
    assert list(validator(DEFINITIONS).iter_errors(document)) == []


# --- events in, changes out, dead letters -------------------------------------------------

# The examples of events.md, verbatim.
EVENT = {
    "event_id": "e-1029",
    "contact_id": "c-42",
    "type": "page_view",
    "timestamp": "2026-11-20T10:00:00Z",
    "properties": {"path": "/pricing"},
}
CHANGE = {
    "kind": "segment",
    "contact_id": "c-42",
    "segment": "mql",
    "change": "entered",
    "at": "2026-11-20T10:00:00Z",
    "reason": "event",
    "cause_event_id": "e-1029",
    "rules_version": "3f9a1c",
    "seq": 7,
    "holdout": False,
}
STAGE_CHANGE = {
    **{k: v for k, v in CHANGE.items() if k not in ("segment", "change", "holdout")},
    "kind": "lifecycle",
    "from": None,
    "to": "lead",
}
IDENTIFY = {
    "event_id": "e-1",
    "contact_id": "c-42",
    "type": "identify",
    "timestamp": "2026-11-20T10:00:00.123456+05:30",
    "traits": {"plan": None},
}
SOURCE = {"topic": "contact-events", "partition": 0, "offset": 12}
DEAD = {
    "reason": "not_json",
    "detail": "Expecting value: line 1 column 1 (char 0)",
    "source": SOURCE,
    "original": base64.b64encode(b"nope").decode(),
    "original_text": "nope",
    "original_bytes": 4,
    "original_sha256": hashlib.sha256(b"nope").hexdigest(),
    "truncated": False,
    "at": "2026-11-20T10:00:00Z",
}
TOMBSTONE = {**DEAD, "reason": "tombstone", "original": None, "original_text": None,
             "original_bytes": 0, "original_sha256": None}  # fmt: skip


def without(message: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k != key}


MESSAGES: list[tuple[str, str, dict[str, Any], bool]] = [
    # contact events
    ("events.md event", CONTACT_EVENT, EVENT, True),
    ("identify", CONTACT_EVENT, IDENTIFY, True),
    ("lower-case t and z", CONTACT_EVENT, {**EVENT, "timestamp": "2026-11-20t10:00:00z"}, True),
    ("extra field", CONTACT_EVENT, {**EVENT, "source": "web"}, True),
    ("256-char contact", CONTACT_EVENT, {**EVENT, "contact_id": "c" * 256}, True),
    ("no event_id", CONTACT_EVENT, without(EVENT, "event_id"), False),
    ("numeric event_id", CONTACT_EVENT, {**EVENT, "event_id": 1029}, False),
    ("empty contact", CONTACT_EVENT, {**EVENT, "contact_id": ""}, False),
    ("257-char contact", CONTACT_EVENT, {**EVENT, "contact_id": "c" * 257}, False),
    ("no type", CONTACT_EVENT, without(EVENT, "type"), False),
    ("no timestamp", CONTACT_EVENT, without(EVENT, "timestamp"), False),
    ("no time zone", CONTACT_EVENT, {**EVENT, "timestamp": "2026-11-20T10:00:00"}, False),
    ("offset without colon", CONTACT_EVENT,
     {**EVENT, "timestamp": "2026-11-20T10:00:00+0100"}, False),
    ("space for T", CONTACT_EVENT, {**EVENT, "timestamp": "2026-11-20 10:00:00Z"}, False),
    ("just a date", CONTACT_EVENT, {**EVENT, "timestamp": "2026-11-20"}, False),
    ("epoch number", CONTACT_EVENT, {**EVENT, "timestamp": 1795168800}, False),
    ("properties a list", CONTACT_EVENT, {**EVENT, "properties": ["/pricing"]}, False),
    ("identify without traits", CONTACT_EVENT, without(IDENTIFY, "traits"), False),
    ("traits null", CONTACT_EVENT, {**IDENTIFY, "traits": None}, False),
    # change messages
    ("events.md change", SEGMENT_CHANGE, CHANGE, True),
    ("stage change", SEGMENT_CHANGE, STAGE_CHANGE, True),
    ("stage change to none", SEGMENT_CHANGE, {**STAGE_CHANGE, "from": "lead", "to": None}, True),
    ("time change", SEGMENT_CHANGE, {**CHANGE, "reason": "time", "cause_event_id": None}, True),
    ("rules change", SEGMENT_CHANGE, {**CHANGE, "reason": "rules", "cause_event_id": None}, True),
    ("fractional at", SEGMENT_CHANGE, {**CHANGE, "at": "2026-11-20T10:00:00.250Z"}, True),
    ("unknown kind", SEGMENT_CHANGE, {**CHANGE, "kind": "segments"}, False),
    ("segment without holdout", SEGMENT_CHANGE, without(CHANGE, "holdout"), False),
    ("segment without change", SEGMENT_CHANGE, without(CHANGE, "change"), False),
    ("segment with from", SEGMENT_CHANGE, {**CHANGE, "from": None}, False),
    ("stage change with segment", SEGMENT_CHANGE, {**STAGE_CHANGE, "segment": "mql"}, False),
    ("stage change with holdout", SEGMENT_CHANGE, {**STAGE_CHANGE, "holdout": False}, False),
    ("stage change without to", SEGMENT_CHANGE, without(STAGE_CHANGE, "to"), False),
    ("joined", SEGMENT_CHANGE, {**CHANGE, "change": "joined"}, False),
    ("unknown reason", SEGMENT_CHANGE, {**CHANGE, "reason": "timer"}, False),
    ("event reason without cause", SEGMENT_CHANGE, {**CHANGE, "cause_event_id": None}, False),
    ("time reason with cause", SEGMENT_CHANGE, {**CHANGE, "reason": "time"}, False),
    ("no cause key", SEGMENT_CHANGE, without(CHANGE, "cause_event_id"), False),
    ("seq 0", SEGMENT_CHANGE, {**CHANGE, "seq": 0}, False),
    ("seq fraction", SEGMENT_CHANGE, {**CHANGE, "seq": 1.5}, False),
    ("empty rules_version", SEGMENT_CHANGE, {**CHANGE, "rules_version": ""}, False),
    ("at without zone", SEGMENT_CHANGE, {**CHANGE, "at": "2026-11-20T10:00:00"}, False),
    ("holdout as text", SEGMENT_CHANGE, {**CHANGE, "holdout": "false"}, False),
    ("extra field", SEGMENT_CHANGE, {**CHANGE, "note": "x"}, False),
    # dead letters
    ("dead letter", DEAD_LETTER, DEAD, True),
    ("not UTF-8", DEAD_LETTER, {**DEAD, "original": "/w==", "original_text": None}, True),
    ("empty original", DEAD_LETTER, {**DEAD, "original": "", "original_text": ""}, True),
    ("reason with spaces", DEAD_LETTER, {**DEAD, "reason": "not json"}, False),
    ("original not base64", DEAD_LETTER, {**DEAD, "original": "nope!"}, False),
    ("original unpadded", DEAD_LETTER, {**DEAD, "original": "bm9wZQ"}, False),
    ("no original_text", DEAD_LETTER, without(DEAD, "original_text"), False),
    ("negative partition", DEAD_LETTER, {**DEAD, "source": {**SOURCE, "partition": -1}}, False),
    ("source without offset", DEAD_LETTER, {**DEAD, "source": without(SOURCE, "offset")}, False),
    ("extra field", DEAD_LETTER, {**DEAD, "key": "c-42"}, False),
    ("at without zone", DEAD_LETTER, {**DEAD, "at": "2026-11-20T10:00:00"}, False),
    ("tombstone", DEAD_LETTER, TOMBSTONE, True),
    ("truncated", DEAD_LETTER, {**DEAD, "original": "bm9w", "original_text": "nop",
                                "truncated": True}, True),
    ("no original_bytes", DEAD_LETTER, without(DEAD, "original_bytes"), False),
    ("no sha256", DEAD_LETTER, without(DEAD, "original_sha256"), False),
    ("sha256 upper case", DEAD_LETTER,
     {**DEAD, "original_sha256": DEAD["original_sha256"].upper()}, False),
    ("no truncated", DEAD_LETTER, without(DEAD, "truncated"), False),
    ("negative length", DEAD_LETTER, {**DEAD, "original_bytes": -1}, False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("schema", "message", "valid"),
    [(s, m, v) for _, s, m, v in MESSAGES],
    ids=[f"{s.split('.')[0]}: {name}" for name, s, _, _ in MESSAGES],
)
def test_message(schema: str, message: dict[str, Any], valid: bool) -> None:
    assert validator(schema).is_valid(message) is valid


# --- the definitions schema agrees with the loader ----------------------------------------


def structural_problems(document: object) -> list[str]:
    """What the hand-written checks find wrong with the shape of `document`."""
    ctx = Context()
    parse_document(document, ctx)
    return [p.render("f") for p in ctx.structural]


def assert_agree(document: object) -> None:
    checker = structural_problems(document)
    schema_ok = validator(DEFINITIONS).is_valid(document)
    if (not checker) != schema_ok:
        errors = [e.message for e in validator(DEFINITIONS).iter_errors(document)]
        pytest.fail(f"{document!r}\nchecker: {checker}\nschema: {errors}")
    try:
        load_dict(document)
    except DefinitionError:
        return
    assert schema_ok


def test_schema_errors_in_the_loader_format() -> None:
    """The second line reports in the same path format, should the checks ever miss something."""
    document = {"version": 1, "segments": [{"id": "a", "when": {"event": "x", "withn": "7d"}}]}
    assert schema_problems(document) == [
        Problem(
            "segments[0].when", "Additional properties are not allowed ('withn' was unexpected)"
        )
    ]
    assert schema_problems(document, "a-digest") == schema_problems(document, "a-digest")


JSON_ERRORS = [(name, document) for name, document, _ in ERRORS if not check_plain(document)]


@pytest.mark.parametrize(
    "document", [d for _, d in JSON_ERRORS], ids=[name for name, _ in JSON_ERRORS]
)
def test_agreement_on_every_load_error_case(document: object) -> None:
    assert_agree(document)


def test_agreement_on_the_example() -> None:
    assert_agree(yaml.safe_load(EXAMPLE_RULES.read_text()))


def test_known_divergence_trailing_newline() -> None:
    """Python's jsonschema matches `pattern` with re.search, where `$` also matches before a
    final newline; ECMA-262 (what JSON Schema specifies) and the loader do not."""
    document = {"version": 1, "segments": [{"id": "a\n", "when": {"all": []}}]}
    assert validator(DEFINITIONS).is_valid(document)
    assert structural_problems(document) == [
        "f: segments[0].id: invalid segment id 'a\\n': "
        "use 1-64 lowercase letters, digits and underscores"
    ]


NAMES = st.sampled_from(["a", "b", "lead", "mql"])
PATHS = st.sampled_from(["plan", "company.industry", "x"])
TEXTS = st.sampled_from(["", "a", "saas", "7d", "lead", "a..b", "MQL", "identify", "x.y"])
NUMBERS = st.one_of(st.integers(-3, 3), st.sampled_from([0.5, 2.0, 1e3, 10**20]))
SCALARS = st.one_of(TEXTS, NUMBERS, st.booleans())
KEYS = st.sampled_from(
    [*KINDS, *VALUE_OPERATORS, *EVENT_OPTIONS, "ignore_case", "property", "points", "rules", "id",
     "when", "name", "tags", "holdout", "stages", "allow_regress", "version", "segments",
     "scores", "lifecycle", "withn", "greater", "x"]
)  # fmt: skip
JUNK = st.one_of(
    st.none(),
    SCALARS,
    st.lists(SCALARS, max_size=3),
    st.dictionaries(KEYS, SCALARS, max_size=2),
)


def pair(values: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    return st.lists(values, min_size=2, max_size=2)


def value_test() -> st.SearchStrategy[dict[str, Any]]:
    operands = {
        "in": st.lists(SCALARS, min_size=1, max_size=3),
        "between": st.one_of(pair(NUMBERS), pair(TEXTS)),
        "exists": st.booleans(),
        "matches": st.sampled_from(["a+", "^x", "("]),
    }
    for op in ("eq", "ne", "contains"):
        operands[op] = SCALARS
    for op in ("gt", "gte", "lt", "lte"):
        operands[op] = st.one_of(NUMBERS, TEXTS)
    for op in ("starts_with", "ends_with"):
        operands[op] = TEXTS
    operands["not_in"] = operands["in"]
    tests = [st.fixed_dictionaries({op: operand}) for op, operand in operands.items()]
    return st.one_of(tests).flatmap(
        lambda test: st.fixed_dictionaries(
            {k: st.just(v) for k, v in test.items()}, optional={"ignore_case": st.booleans()}
        )
    )


def numeric_test() -> st.SearchStrategy[dict[str, Any]]:
    plain = st.sampled_from(NUMERIC_OPERATORS[:-1]).flatmap(
        lambda op: st.fixed_dictionaries({op: NUMBERS})
    )
    return st.one_of(plain, st.fixed_dictionaries({"between": pair(NUMBERS)}))


def merged(*parts: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.tuples(*parts).map(lambda dicts: {k: v for d in dicts for k, v in d.items()})


EVENT_TYPES = st.one_of(NAMES, st.lists(NAMES, min_size=1, max_size=2))
WHERE = st.dictionaries(
    PATHS, st.one_of(SCALARS, st.lists(SCALARS, min_size=1, max_size=2), value_test()), max_size=2
)
AGGREGATE = st.one_of(
    st.fixed_dictionaries({"count": numeric_test()}),
    st.sampled_from(AGGREGATES[1:]).flatmap(
        lambda kind: st.fixed_dictionaries(
            {kind: merged(st.fixed_dictionaries({"property": PATHS}), numeric_test())}
        )
    ),
)
LEAVES = st.one_of(
    merged(st.fixed_dictionaries({"trait": PATHS}), value_test()),
    merged(
        st.fixed_dictionaries(
            {"event": EVENT_TYPES},
            optional={"where": WHERE, "within": st.sampled_from(["7d", "0d", "90s"])},
        ),
        st.one_of(st.just({}), AGGREGATE),
    ),
    merged(st.fixed_dictionaries({"score": NAMES}), numeric_test()),
    st.fixed_dictionaries({"in_segment": NAMES}),
    st.fixed_dictionaries(
        {
            "stage": st.one_of(
                st.sampled_from(STAGE_OPERATORS).flatmap(
                    lambda op: st.fixed_dictionaries(
                        {op: st.lists(NAMES, min_size=1, max_size=2)}
                        if op in ("in", "not_in")
                        else {op: NAMES}
                    )
                )
            )
        }
    ),
)
CONDITIONS = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda items: {"all": items}),
        st.lists(inner, max_size=3).map(lambda items: {"any": items}),
        inner.map(lambda item: {"not": item}),
    ),
    max_leaves=6,
)
SEGMENT = st.fixed_dictionaries(
    {"id": NAMES, "when": CONDITIONS},
    optional={
        "name": TEXTS,
        "tags": st.lists(TEXTS, max_size=2),
        "holdout": st.sampled_from([0, 0.1, 0.999]),
        "goal": st.builds(
            lambda kind, name, within: {kind: name, "within": within},
            st.sampled_from(["stage", "segment"]),
            NAMES,
            st.sampled_from(["30d", "2w"]),
        ),
    },
)
SCORE = st.fixed_dictionaries(
    {
        "id": NAMES,
        "rules": st.lists(
            st.fixed_dictionaries(
                {"event": EVENT_TYPES, "points": NUMBERS}, optional={"where": WHERE}
            ),
            min_size=1,
            max_size=2,
        ),
    },
    optional={"within": st.sampled_from(["30d", "1w"])},
)
LIFECYCLE = st.fixed_dictionaries(
    {
        "stages": st.lists(NAMES, min_size=1, max_size=3),
        "rules": st.lists(
            st.fixed_dictionaries({"stage": NAMES, "when": CONDITIONS}), min_size=1, max_size=2
        ),
    },
    optional={"allow_regress": st.booleans()},
)
DOCUMENTS = st.fixed_dictionaries(
    {"version": st.just(1), "segments": st.lists(SEGMENT, min_size=1, max_size=3)},
    optional={"scores": st.lists(SCORE, max_size=2), "lifecycle": LIFECYCLE},
)


def slots(node: Any) -> Iterator[tuple[Any, Any]]:
    """Every (container, key) in a document, depth first."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in list(items):
        yield node, key
        if isinstance(value, (dict, list)):
            yield from slots(value)


@st.composite
def mutated_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed document with up to three random edits: a value replaced by junk, a key or
    item deleted, or a junk key added to a mapping. Edits go mostly below the top level."""
    document: dict[str, Any] = copy.deepcopy(draw(DOCUMENTS))
    for _ in range(draw(st.integers(1, 3))):
        candidates = list(slots(document))
        if not candidates:  # everything deleted already
            break
        deep = [(c, k) for c, k in candidates if c is not document]
        if deep and draw(st.integers(0, 9)):
            candidates = deep
        container, key = draw(st.sampled_from(candidates))
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            container[key] = draw(JUNK)
        elif action == "delete":
            del container[key]
        elif isinstance(container[key], dict):
            container[key][draw(KEYS)] = draw(JUNK)
    return document


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS)
def test_well_formed_documents_pass_both(document: dict[str, Any]) -> None:
    assert structural_problems(document) == []
    assert validator(DEFINITIONS).is_valid(document)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_documents())
def test_agreement_on_mutated_documents(document: dict[str, Any]) -> None:
    assert_agree(document)
