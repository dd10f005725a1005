"""Settings: every field has a variable and a doc, parsing is strict, help and README show them."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from pathlib import Path

import pytest

from stream.core.limits import DEFAULT_LIMITS
from stream.setting_kinds import parse_bool, parse_timedelta, render_timedelta
from stream.settings import Settings, bootstrap_servers
from stream.settings_declared import declared, declared_setting, env_names, help_text

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_field_has_a_prefixed_variable_and_a_one_line_doc() -> None:
    for f in dataclasses.fields(Settings):
        assert f.metadata["env"] == "SEGSTREAM_" + f.name.upper()
        doc = f.metadata["doc"]
        assert doc and "\n" not in doc and doc.endswith(".")
        # The `--help` block prints each doc on one line, after six spaces.
        assert len(doc) <= 90, f"{f.name}: keep the doc to one short line"


def test_defaults_without_environment() -> None:
    s = Settings.from_env({})
    assert s.broker == "kafka://127.0.0.1:9092"
    assert s.redis_url == "redis://127.0.0.1:6379/0"
    assert (s.events_topic, s.changes_topic, s.dlq_topic) == (
        "contact-events",
        "segment-changes",
        "contact-events-dlq",
    )
    assert s.partitions == 8
    assert s.store == "rocksdb://"
    assert s.exactly_once is False
    assert s.clock == "wall"
    assert s.dedupe_horizon == timedelta(hours=24)
    assert s.rules_file is None
    assert s.status_file is None


def test_environment_is_parsed_and_overrides_win() -> None:
    env = {
        "SEGSTREAM_BROKER": "kafka://10.0.0.1:9092",
        "SEGSTREAM_PARTITIONS": "3",
        "SEGSTREAM_EXACTLY_ONCE": "yes",
        "SEGSTREAM_DEDUPE_HORIZON": "90d",
        "SEGSTREAM_STATE_DIR": "/var/lib/segstream",
        "SEGSTREAM_RULES_FILE": "/rules/segments.yaml",
        "SEGSTREAM_CLOCK": "event",
        "SEGSTREAM_STATUS_FILE": "/run/segstream/status.json",
    }
    s = Settings.from_env(env, partitions=5)
    assert s.broker == "kafka://10.0.0.1:9092"
    assert s.partitions == 5
    assert s.exactly_once is True
    assert s.dedupe_horizon == timedelta(days=90)
    assert s.state_dir == Path("/var/lib/segstream")
    assert s.rules_file == Path("/rules/segments.yaml")
    assert s.clock == "event"
    assert s.status_file == Path("/run/segstream/status.json")


def test_durations_take_the_definition_files_units_and_milliseconds() -> None:
    env = {
        "SEGSTREAM_DEDUPE_HORIZON": "2w",  # rejected before the two grammars were one
        "SEGSTREAM_BATCH_WAIT": "0ms",
        "SEGSTREAM_FUTURE_TOLERANCE": " 90s ",
    }
    s = Settings.from_env(env)
    assert s.dedupe_horizon == timedelta(weeks=2)
    assert s.batch_wait == timedelta(0)
    assert s.future_tolerance == timedelta(seconds=90)


def test_settings_are_frozen() -> None:
    s = Settings.from_env({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.partitions = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("env", "value", "message"),
    [
        ("SEGSTREAM_PARTITIONS", "0", "at least 1"),
        ("SEGSTREAM_PARTITIONS", "many", "invalid literal"),
        ("SEGSTREAM_CLOCK", "sundial", "not one of wall, event"),
        ("SEGSTREAM_STORE", "redis://", "rocksdb:// or memory://"),
        ("SEGSTREAM_EXACTLY_ONCE", "maybe", "write true or false"),
        ("SEGSTREAM_DEDUPE_HORIZON", "a day", "invalid duration"),
        ("SEGSTREAM_BATCH_WAIT", "36526d", "longer than 100 years"),
        ("SEGSTREAM_STANDBY_REPLICAS", "-1", "must not be negative"),
        ("SEGSTREAM_MAX_DEPTH", "65", "at most 64"),
        ("SEGSTREAM_MAX_NUMBER", "inf", r"at most 1e\+289"),
        ("SEGSTREAM_MAX_NUMBER", "0", "above 0"),
        ("SEGSTREAM_LATEST_TIMESTAMP", "3000-01-01", "RFC 3339"),
        ("SEGSTREAM_ON_PROCESSING_ERROR", "ignore", "not one of dead-letter, stop"),
        ("SEGSTREAM_MAX_DEAD_LETTER_BYTES", "1000", "at least 16384"),
    ],
)
def test_malformed_values_name_the_variable(env: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        Settings.from_env({env: value})
    assert str(info.value).startswith(env + ":")


def test_unknown_override_is_rejected() -> None:
    with pytest.raises(TypeError, match="unknown settings: colour"):
        Settings.from_env({}, colour="blue")


def test_as_env_round_trips() -> None:
    s = Settings.from_env(
        {},
        exactly_once=True,
        future_tolerance=timedelta(minutes=90),
        dedupe_horizon=timedelta(weeks=3),
        status_file=Path("/tmp/status.json"),
    )
    assert Settings.from_env(s.as_env()) == s
    assert set(s.as_env()) == set(env_names())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500ms", timedelta(milliseconds=500)),
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        ("90d", timedelta(days=90)),
        ("2w", timedelta(weeks=2)),
        ("0s", timedelta(0)),
    ],
)
def test_duration_round_trip(text: str, expected: timedelta) -> None:
    assert parse_timedelta(text) == expected
    assert render_timedelta(expected) == text


@pytest.mark.parametrize("text", ["", "1", "1y", "-1h", "1.5h", "h", "1 h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_timedelta(text)


@pytest.mark.parametrize(
    ("text", "expected"), [("1", True), ("TRUE", True), ("off", False), ("no", False)]
)
def test_bools(text: str, expected: bool) -> None:
    assert parse_bool(text) is expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("kafka://127.0.0.1:9092", "127.0.0.1:9092"),
        ("kafka://a:1;kafka://b:2", "a:1,b:2"),
        ("a:1,b:2", "a:1,b:2"),
    ],
)
def test_bootstrap_servers(url: str, expected: str) -> None:
    assert bootstrap_servers(url) == expected


def test_help_lists_every_variable_with_its_doc() -> None:
    text = help_text()
    for f in dataclasses.fields(Settings):
        assert f.metadata["env"] in text
        assert f.metadata["doc"] in text


def test_declared_setting_names_a_field() -> None:
    entry = declared_setting("batch_wait")
    assert (entry.env, entry.default) == ("SEGSTREAM_BATCH_WAIT", "50ms")
    with pytest.raises(KeyError, match="no setting 'colour'"):
        declared_setting("colour")


def _readme_rows() -> list[tuple[str, str, str]]:
    text = README.read_text()
    section = text[text.index("\n## Settings\n") :]
    section = section[: section.index("\n## ", 1)]
    return re.findall(r"^\| `(SEGSTREAM_\w+)` \| ([^|]*) \| ([^|]*) \|$", section, re.MULTILINE)


def test_readme_table_is_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's table lists every field in order, with its default and its doc as is."""
    monkeypatch.setenv("HOME", "/home/someone")
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    expected = [
        (e.env, f"`{e.default.replace('/home/someone', '~', 1)}`" if e.default else "(none)", e.doc)
        for e in declared()
    ]
    table = "\n".join(f"| `{env}` | {default} | {doc} |" for env, default, doc in expected)
    assert _readme_rows() == expected, f"make the README's settings table:\n{table}"


def test_the_limits_are_settings() -> None:
    env = {
        "SEGSTREAM_MAX_EVENT_ID_CHARS": "64",
        "SEGSTREAM_MAX_DEPTH": "8",
        "SEGSTREAM_MAX_NUMBER": "1e12",
        "SEGSTREAM_EARLIEST_TIMESTAMP": "2000-01-01T00:00:00Z",
        "SEGSTREAM_LATEST_TIMESTAMP": "2100-01-01T01:00:00+01:00",
        "SEGSTREAM_MAX_MATCH_CHARS": "100",
    }
    limits = Settings.from_env(env).limits()
    assert (limits.event_id_chars, limits.depth, limits.number_magnitude) == (64, 8, 1e12)
    assert limits.earliest_us == 946_684_800_000_000
    assert limits.latest_us == 4_102_444_800_000_000
    assert limits.match_chars == 100 and limits.text_chars == 4096
    assert Settings.from_env({}).limits() == DEFAULT_LIMITS


def test_the_timestamp_range_must_not_be_empty() -> None:
    with pytest.raises(ValueError, match="EARLIEST_TIMESTAMP must be before"):
        Settings.from_env({"SEGSTREAM_EARLIEST_TIMESTAMP": "3000-01-01T00:00:00Z"})
