"""Settings: every field has a variable and a doc, parsing is strict, help shows them all."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from pathlib import Path

import pytest

from stream.settings import (
    Settings,
    bootstrap_servers,
    describe,
    env_names,
    format_duration,
    help_text,
    parse_bool,
    parse_duration,
)


def test_every_field_has_a_prefixed_variable_and_a_one_line_doc() -> None:
    for f in dataclasses.fields(Settings):
        assert f.metadata["env"] == "SEGSTREAM_" + f.name.upper()
        doc = f.metadata["doc"]
        assert doc and "\n" not in doc and doc.endswith(".")


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


def test_environment_is_parsed_and_overrides_win() -> None:
    env = {
        "SEGSTREAM_BROKER": "kafka://10.0.0.1:9092",
        "SEGSTREAM_PARTITIONS": "3",
        "SEGSTREAM_EXACTLY_ONCE": "yes",
        "SEGSTREAM_DEDUPE_HORIZON": "90d",
        "SEGSTREAM_STATE_DIR": "/var/lib/segstream",
        "SEGSTREAM_RULES_FILE": "/rules/segments.yaml",
        "SEGSTREAM_CLOCK": "event",
    }
    s = Settings.from_env(env, partitions=5)
    assert s.broker == "kafka://10.0.0.1:9092"
    assert s.partitions == 5
    assert s.exactly_once is True
    assert s.dedupe_horizon == timedelta(days=90)
    assert s.state_dir == Path("/var/lib/segstream")
    assert s.rules_file == Path("/rules/segments.yaml")
    assert s.clock == "event"


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
        ("SEGSTREAM_DEDUPE_HORIZON", "a day", "not a duration"),
        ("SEGSTREAM_STANDBY_REPLICAS", "-1", "must not be negative"),
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
    s = Settings.from_env({}, exactly_once=True, future_tolerance=timedelta(minutes=90))
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
    ],
)
def test_duration_round_trip(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    assert format_duration(expected) == text


@pytest.mark.parametrize("text", ["", "1", "1w", "-1h", "1.5h", "h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


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


def test_readme_table_lists_every_setting_with_its_default() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    rows = dict(re.findall(r"^\| `(SEGSTREAM_\w+)` \| ([^|]*) \|", readme, re.MULTILINE))
    assert set(rows) == set(env_names()), "add or remove rows in the README's settings table"
    for env, default, _ in describe():
        if env != "SEGSTREAM_STATE_DIR":  # the README shows it relative to ~
            assert rows[env] == (f"`{default}`" if default else "(none)"), env
