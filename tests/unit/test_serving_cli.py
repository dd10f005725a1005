"""`segstream api` and `segstream materialize`: options, and no open API on the network."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from stream.cli.api import is_loopback
from stream.cli.main import main
from stream.serving.connection import redact


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("127.0.0.2", True),
     ("0.0.0.0", False), ("10.1.2.3", False), ("example.com", False), ("::", False)],
)  # fmt: skip
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_api_refuses_the_network_without_a_token() -> None:
    result = CliRunner().invoke(main, ["api", "--host", "0.0.0.0"], env={"SEGSTREAM_API_TOKEN": ""})
    assert result.exit_code == 2
    assert "SEGSTREAM_API_TOKEN" in result.output and "--allow-no-token" in result.output


@pytest.mark.parametrize("command", ["api", "materialize"])
def test_help_lists_the_contract_options(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    wanted = {
        "api": ["--redis", "--rules", "--host", "--port"],
        "materialize": ["--redis", "--broker", "--changes-topic", "--app-id"],
    }[command]
    for option in wanted:
        assert option in result.output


@pytest.mark.parametrize(
    ("url", "shown"),
    [("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
     ("redis://u:secret@h:6379/0", "redis://u:***@h:6379/0"),
     ("rediss://:secret@h/1", "rediss://:***@h/1")],
)  # fmt: skip
def test_passwords_never_reach_the_logs(url: str, shown: str) -> None:
    assert redact(url) == shown
