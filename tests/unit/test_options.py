"""Command-line options made from the settings: one declaration, read like the variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

import stream.app.run
from stream.cli.main import main
from stream.cli.options import setting_option, settings_from
from stream.settings import Settings
from stream.settings_declared import declared_setting, env_names

EXAMPLE_RULES = Path(__file__).resolve().parents[2] / "stream" / "examples" / "segments.yaml"


def _options(command: click.Command, path: str = "segstream") -> list[tuple[str, click.Option]]:
    found = []
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            found += _options(sub, f"{path} {name}")
    for param in command.params:
        if isinstance(param, click.Option):
            found.append((path, param))
    return found


def test_every_variable_an_option_reads_is_a_setting_with_its_doc() -> None:
    read = [(path, option) for path, option in _options(main) if option.envvar]
    assert read, "no command reads a setting"
    for path, option in read:
        assert option.envvar in env_names(), f"{path} {option.opts}: not a Settings field"
        entry = declared_setting(str(option.name))
        assert option.envvar == entry.env, f"{path} {option.opts}"
        assert (option.help or "").startswith(entry.doc), f"{path} {option.opts}"


def test_an_option_shows_its_default_and_a_flag_pair_names_the_default_side() -> None:
    @click.command()
    @setting_option("batch_size")
    @setting_option("exactly_once", "--exactly-once/--at-least-once")
    @setting_option("rules_file", "--rules")
    def command(**options: Any) -> None:
        del options

    text = CliRunner().invoke(command, ["--help"], terminal_width=200).output
    assert "[default: 2000]  [env var: SEGSTREAM_BATCH_SIZE; x>=1]" in text
    assert "[default: at-least-once]  [env var: SEGSTREAM_EXACTLY_ONCE]" in text
    assert "the worker evaluates.  [env var: SEGSTREAM_RULES_FILE]" in text


@pytest.fixture(autouse=True)
def no_settings_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in env_names():
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Settings, Path | None]]:
    """What `segstream worker` would run the worker with, instead of running it."""
    runs: list[tuple[Settings, Path | None]] = []

    def run_worker(settings: Settings, rules: object, **kwargs: Any) -> None:
        runs.append((settings, kwargs["status_path"]))

    monkeypatch.setattr(stream.app.run, "run_worker", run_worker)
    return runs


def _worker(*args: str, **env: str) -> click.testing.Result:
    return CliRunner().invoke(main, ["worker", "--rules", str(EXAMPLE_RULES), *args], env=env)


def test_worker_options_win_over_variables_and_variables_over_defaults(
    started: list[tuple[Settings, Path | None]],
) -> None:
    result = _worker(
        "--partitions",
        "3",
        "--at-least-once",
        "--status-file",
        "/tmp/status.json",
        SEGSTREAM_PARTITIONS="5",
        SEGSTREAM_EXACTLY_ONCE="true",
        SEGSTREAM_DEDUPE_HORIZON="2w",
    )
    assert result.exit_code == 0, result.output
    [(settings, status_path)] = started
    assert settings.partitions == 3
    assert settings.exactly_once is False
    assert settings.dedupe_horizon.days == 14
    assert settings.batch_size == Settings().batch_size
    assert settings.rules_file == EXAMPLE_RULES
    assert status_path == settings.status_file == Path("/tmp/status.json")


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--store", "redis://"], {}, "is not a store URL"),  # once let through by the flag
        ([], {"SEGSTREAM_STORE": "redis://"}, "is not a store URL"),
        (["--partitions", "0"], {}, "0 is not in the range x>=1"),
        (["--clock", "sundial"], {}, "'sundial' is not one of 'wall', 'event'"),
        ([], {"SEGSTREAM_BATCH_WAIT": "soon"}, "SEGSTREAM_BATCH_WAIT: invalid duration 'soon'"),
    ],
)
def test_worker_rejects_a_malformed_setting_before_starting(
    started: list[tuple[Settings, Path | None]],
    args: list[str],
    env: dict[str, str],
    message: str,
) -> None:
    result = _worker(*args, **env)
    assert result.exit_code == 2
    assert message in result.output
    assert started == []


def test_settings_from_skips_what_was_not_given_and_reports_a_bad_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SEGSTREAM_APP_ID", "from-env")
    assert settings_from(app_id=None, partitions=2) == Settings(app_id="from-env", partitions=2)
    monkeypatch.setenv("SEGSTREAM_FUTURE_TOLERANCE", "1y")
    with pytest.raises(click.UsageError, match="SEGSTREAM_FUTURE_TOLERANCE: invalid duration"):
        settings_from()
