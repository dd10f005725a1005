"""The worker refuses to start on a faust-streaming, mode-streaming or aiokafka it was not
tested with: it relies on their internals (stream/app/faust_private.py)."""

from __future__ import annotations

import importlib.metadata
import tomllib
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from stream.app.faust_private import TESTED, App, Consumer, UntestedVersion, check_versions
from stream.cli import worker

ROOT = Path(__file__).resolve().parents[2]
RULES = "version: 1\nsegments:\n  - id: visitors\n    when: {event: page_view}\n"
PINS = "pip install faust-streaming==0.15.3 mode-streaming==0.7.1 aiokafka==0.14.0"


def installed(**versions: str) -> Callable[[str], str]:
    """A version lookup that reports `versions` (by distribution name, `_` for `-`)."""
    named = {name.replace("_", "-"): version for name, version in versions.items()}
    real = importlib.metadata.version

    def version(name: str) -> str:
        return named.get(name) or real(name)

    return version


def test_the_tested_versions_are_accepted() -> None:
    check_versions(installed())


@pytest.mark.parametrize("package", sorted(TESTED))
def test_any_other_version_is_refused_in_one_line_that_says_what_to_install(
    package: str,
) -> None:
    with pytest.raises(UntestedVersion) as refused:
        check_versions(installed(**{package.replace("-", "_"): "9.9.9"}))
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"{package} 9.9.9 is installed, ")
    assert message.endswith(PINS)


def test_a_missing_package_is_refused() -> None:
    def version(name: str) -> str:
        if name == "mode-streaming":
            raise importlib.metadata.PackageNotFoundError(name)
        return TESTED[name]

    with pytest.raises(UntestedVersion, match=r"^mode-streaming none is installed"):
        check_versions(version)


def test_the_tested_versions_are_the_ones_pyproject_pins() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned = dict(dep.split("==") for dep in project["dependencies"])
    assert {name: pinned[name] for name in TESTED} == TESTED


def test_the_corrected_app_is_not_built_on_an_untested_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(importlib.metadata, "version", installed(aiokafka="0.15.0"))
    with pytest.raises(UntestedVersion, match=r"^aiokafka 0\.15\.0 is installed"):
        App("untested")


def test_the_worker_stops_at_start_with_a_one_line_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(importlib.metadata, "version", installed(faust_streaming="0.16.0"))
    rules, state = tmp_path / "rules.yaml", tmp_path / "state"
    rules.write_text(RULES)
    args = ["--rules", str(rules), "--state-dir", str(state)]
    result = CliRunner().invoke(worker.command, args)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "error: faust-streaming 0.16.0 is installed, but the worker relies on its internals"
        f" as of 0.15.3 (stream/app/faust_private.py); install the tested versions: {PINS}"
    ]
    assert not state.exists()  # stopped before anything was created


@pytest.mark.parametrize(
    ("app_stopping", "consumer_stopping", "keeps_open"),
    [
        (True, False, True),  # the app's stop: the agents may still ack their batch in flight
        (True, True, False),  # the consumer's own stop, the last commit
        (False, False, False),  # a revocation, as Faust does it
    ],
)
async def test_only_the_consumer_s_own_stop_ends_the_transactions(
    app_stopping: bool, consumer_stopping: bool, keeps_open: bool
) -> None:
    commits: list[bool] = []

    class Stub:
        app = SimpleNamespace(should_stop=app_stopping)
        should_stop = consumer_stopping

        async def commit(self, *, start_new_transaction: bool) -> bool:
            commits.append(start_new_transaction)
            return True

    await Consumer.commit_and_end_transactions(Stub())  # type: ignore[arg-type]
    assert commits == [keeps_open]
