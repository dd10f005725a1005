"""The versions a worker knows: a bad one rejected with a count, partitions placed by meta."""

from __future__ import annotations

import logging

import orjson
import pytest

from stream.app.processor import Effects, Partition, Policy, Record
from stream.app.versions import Versions
from stream.core.definitions import Version
from stream.core.evaluation.engine import Engine
from stream.core.language.ast import RuleSet
from stream.core.language.loader import load_text
from stream.ops.metrics import Counters
from stream.testing.fakes import MemoryStore
from stream.testing.versions import version_b_text
from tests.support import EXAMPLE_RULES

A_TEXT, B_TEXT = EXAMPLE_RULES.read_text(), version_b_text()
A, B = load_text(A_TEXT), load_text(B_TEXT)


def _versions() -> tuple[Versions, Counters]:
    metrics = Counters()

    def make(rules: RuleSet) -> Engine:
        return Engine(rules)

    return Versions(Engine(A), make, metrics), metrics


def _count(metrics: Counters, name: str) -> float:
    value = metrics.registry.get_sample_value(name)
    return 0.0 if value is None else value


def test_a_new_version_comes_into_force_and_a_repeat_changes_nothing() -> None:
    versions, metrics = _versions()
    assert not versions.offer(Version(A.version_hash, 0, "a.yaml", A_TEXT))
    assert versions.offer(Version(B.version_hash, 1, "b.yaml", B_TEXT))
    assert versions.in_force.rules_version == B.version_hash
    assert not versions.offer(Version(B.version_hash, 2, "b.yaml", B_TEXT))
    assert _count(metrics, "segstream_rule_versions_seen_total") == 3


@pytest.mark.parametrize(
    ("version", "text", "why"),
    [
        ("bad-1", "version: 1\nsegments: [{id: x}]\n", "bad.yaml"),
        ("not-its-hash", A_TEXT, "its text is version"),
    ],
)
def test_a_bad_version_is_one_log_line_and_a_count_and_the_running_one_stays(
    version: str, text: str, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    versions, metrics = _versions()
    versions.offer(Version(B.version_hash, 1, "b.yaml", B_TEXT))
    with caplog.at_level(logging.WARNING, "stream.app.versions"):
        assert not versions.offer(Version(version, 2, "bad.yaml", text))
    assert versions.in_force.rules_version == B.version_hash
    assert _count(metrics, "segstream_rule_versions_rejected_total") == 1
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert line.startswith(f"definition version {version} (from bad.yaml) rejected, staying on")
    assert why in line


def test_partitions_are_placed_on_the_version_their_meta_names() -> None:
    versions, _ = _versions()
    versions.offer(Version(B.version_hash, 1, "b.yaml", B_TEXT))
    store = MemoryStore()
    fresh = Partition(0, versions.start, store, Policy(clock="event"))
    versions.place(fresh)  # no meta: straight on the version in force
    assert fresh.engine is versions.in_force and fresh.rules_version == B.version_hash

    old = Partition(1, versions.start, store, Policy(clock="event"))
    event = {"event_id": "e1", "contact_id": "c1", "type": "page_view",
             "timestamp": "2026-11-20T10:00:00Z"}  # fmt: skip
    old.handle(Record("events", 1, 0, b"c1", orjson.dumps(event)), lambda: 0, Effects())
    store.write(1, old.take_writes())  # a meta with no version: before following
    again = Partition(1, versions.start, store, Policy(clock="event"))
    versions.place(again)
    assert again.engine is versions.start and again.rules_version == A.version_hash
