"""The project's JSON Schemas, and the definitions schema as a second line behind the checker."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import best_match  # type: ignore[import-untyped]

from stream.core.language.validate_context import join
from stream.errors import Problem

DEFINITIONS = "definitions.schema.json"
CONTACT_EVENT = "contact-event.schema.json"
SEGMENT_CHANGE = "segment-change.schema.json"
DEAD_LETTER = "dead-letter.schema.json"


@cache
def load_schema(name: str) -> dict[str, Any]:
    """One of the schemas in the repository's `schemas/` (shipped as `stream/schemas`)."""
    text = files("stream").joinpath("schemas", name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def validator(name: str) -> Draft202012Validator:
    """A draft 2020-12 validator for schema `name`, checking formats too."""
    return Draft202012Validator(
        load_schema(name), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


# Verdicts by the SHA-256 of a document's canonical JSON: validating is slow next to the
# rest of loading (docs/engine.md), and tests and reloads see the same documents again and
# again.
_VERDICTS: dict[str, tuple[Problem, ...]] = {}
_VERDICTS_KEPT = 64


def schema_problems(doc: object, digest: str | None = None) -> list[Problem]:
    """What the definitions schema finds wrong with `doc`, in the loader's path format.

    The hand-written checks find everything the schema does, with clearer messages; this is
    the second line, so that a gap in them still rejects the file. `digest` identifies the
    document's content, to reuse an earlier verdict.
    """
    if digest is not None and digest in _VERDICTS:
        return list(_VERDICTS[digest])
    try:
        errors = list(validator(DEFINITIONS).iter_errors(doc))
    except RecursionError:  # nesting deeper than jsonschema recurses; the checks had their say
        errors = []
    problems = []
    for error in errors:
        error = best_match([error])
        path = ""
        for key in error.absolute_path:
            path = join(path, key)
        problems.append(Problem(path, error.message))
    if digest is not None:
        if len(_VERDICTS) >= _VERDICTS_KEPT:
            del _VERDICTS[next(iter(_VERDICTS))]
        _VERDICTS[digest] = tuple(problems)
    return problems
