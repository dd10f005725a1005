"""Load a definition file (YAML or JSON) into a checked RuleSet, or reject it with every problem.

A file goes through: parsing (strict YAML 1.2 scalars or JSON, see validate_syntax), the
structural checks and AST building in one walk (validate_document and the modules it uses),
the checks across the whole file (validate_meaning: duplicates, references, cycles), and the
JSON Schema as a second line (validate_schema). Any problem rejects the whole file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

from stream.core.language.ast import RuleSet
from stream.core.language.validate_context import Context
from stream.core.language.validate_document import parse_document
from stream.core.language.validate_meaning import check_meaning
from stream.core.language.validate_schema import schema_problems
from stream.core.language.validate_syntax import Syntax, check_plain, parse_text
from stream.errors import DefinitionError, Problem

_SUFFIXES: dict[str, Syntax] = {".json": "json", ".yaml": "yaml", ".yml": "yaml"}


def load_file(path: str | os.PathLike[str]) -> RuleSet:
    """Load the definition file at `path`; JSON by a .json suffix, YAML by .yaml/.yml, else
    guessed from the content. Raise DefinitionError listing every problem."""
    source = os.fspath(path)
    try:
        raw = Path(source).read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise DefinitionError(source, [Problem("", f"cannot read the file: {reason}")]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = Problem(
            "",
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}): "
            "save the file as UTF-8",
        )
        raise DefinitionError(source, [problem]) from None
    return load_text(text, source, syntax=_SUFFIXES.get(Path(source).suffix.lower()))


def load_text(text: str, source: str = "<string>", *, syntax: Syntax | None = None) -> RuleSet:
    """Load definitions from `text` (YAML or JSON; guessed unless `syntax` says).

    `source` names the text in messages. Raise DefinitionError listing every problem.
    """
    data, problems = parse_text(text, syntax)
    if problems:
        raise DefinitionError(source, problems)
    return _load(data, source)


def load_dict(obj: object, source: str = "<dict>") -> RuleSet:
    """Load definitions already parsed into plain data (dicts, lists, str, numbers, bools)."""
    problems = check_plain(obj)
    if problems:
        raise DefinitionError(source, problems)
    return _load(obj, source)


def _load(doc: object, source: str) -> RuleSet:
    ctx = Context()
    ruleset = parse_document(doc, ctx)
    check_meaning(ctx)
    digest = content_digest(doc)
    if not ctx.structural:
        ctx.structural.extend(schema_problems(doc, digest))
    if ctx.problems or ruleset is None:
        raise DefinitionError(source, ctx.problems)
    return dataclasses.replace(ruleset, version_hash=digest[:12])


def content_digest(doc: object) -> str:
    """SHA-256 (hex) of the document's canonical JSON: sorted keys, no whitespace, UTF-8."""
    canonical = json.dumps(
        doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def summary(ruleset: RuleSet) -> str:
    """One line for `segstream validate`, e.g.
    ``17 segments, 1 score, lifecycle with 7 stages (version 3f9a1c2b8d7e)``."""
    parts = [_count(len(ruleset.segments), "segment"), _count(len(ruleset.scores), "score")]
    if ruleset.lifecycle is None:
        parts.append("no lifecycle")
    else:
        parts.append(f"lifecycle with {_count(len(ruleset.lifecycle.stages), 'stage')}")
    return f"{', '.join(parts)} (version {ruleset.version_hash})"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
