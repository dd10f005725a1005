"""Kafka and Redis security settings: client options made in one place, secrets never shown."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from click.testing import CliRunner

from stream.app.factory import broker_credentials, create_app
from stream.cli.main import main
from stream.core.language.loader import load_file
from stream.ops.kafka_security import PLAINTEXT, KafkaSecurity
from stream.ops.report import start_line
from stream.settings import Settings
from stream.settings_declared import help_text
from tests.support import EXAMPLE_RULES

PASSWORD = "pa55-w0rd-never-shown"
SECURE = {
    "SEGSTREAM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "SEGSTREAM_KAFKA_SASL_USERNAME": "alice",
    "SEGSTREAM_KAFKA_SASL_PASSWORD": PASSWORD,
    "SEGSTREAM_REDIS_URL": f"rediss://alice:{PASSWORD}@redis.example:6380/0",
    "SEGSTREAM_API_TOKEN": PASSWORD,
}


def test_plaintext_by_default() -> None:
    assert KafkaSecurity.of(Settings.from_env({})) == PLAINTEXT
    assert PLAINTEXT.client_options() == {"security_protocol": "PLAINTEXT"}
    assert broker_credentials(PLAINTEXT) is None


def test_sasl_ssl_gives_aiokafka_its_options() -> None:
    security = KafkaSecurity.of(Settings.from_env(SECURE))
    options = security.client_options()
    assert isinstance(options.pop("ssl_context"), ssl.SSLContext)
    assert options == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "alice",
        "sasl_plain_password": PASSWORD,
    }


@pytest.mark.parametrize(
    ("protocol", "sasl", "tls"),
    [("SASL_SSL", True, True), ("SASL_PLAINTEXT", True, False), ("SSL", False, True)],
)
def test_each_protocol_is_faust_credentials_of_the_same_kind(
    protocol: str, sasl: bool, tls: bool
) -> None:
    security = KafkaSecurity(protocol, "SCRAM-SHA-256", "bob", PASSWORD)
    assert (security.sasl, security.tls) == (sasl, tls)
    credentials = broker_credentials(security)
    assert credentials.protocol.value == protocol
    if sasl:
        assert credentials.mechanism.value == "SCRAM-SHA-256"
    assert PASSWORD not in repr(credentials)


def test_the_worker_app_gets_the_credentials(tmp_path: Path) -> None:
    settings = Settings.from_env(SECURE, state_dir=tmp_path, store="memory://")
    conf = create_app(settings).app.conf
    assert conf.broker_credentials.username == "alice"
    assert conf.broker_credentials.protocol.value == "SASL_SSL"


def test_sasl_without_a_user_or_password_names_the_variables() -> None:
    with pytest.raises(ValueError, match="SEGSTREAM_KAFKA_SASL_USERNAME and SEGSTREAM_KAFKA_SASL_"):
        Settings.from_env({"SEGSTREAM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"})


def test_an_unknown_protocol_is_refused() -> None:
    with pytest.raises(ValueError, match="SEGSTREAM_KAFKA_SECURITY_PROTOCOL"):
        Settings.from_env({"SEGSTREAM_KAFKA_SECURITY_PROTOCOL": "KERBEROS"})


def test_secrets_are_not_in_repr_or_help(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.from_env(SECURE)
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in repr(KafkaSecurity.of(settings))
    assert "alice" in repr(settings)  # the user name is no secret
    for name, value in SECURE.items():
        monkeypatch.setenv(name, value)
    assert PASSWORD not in help_text()
    for command in (["worker"], ["produce"], ["tail"], ["lag"], ["materialize"], ["api"]):
        shown = CliRunner().invoke(main, [*command, "--help"])
        assert shown.exit_code == 0, shown.output
        assert PASSWORD not in shown.output


def test_the_start_line_names_the_protocol_and_user_only() -> None:
    rules = load_file(EXAMPLE_RULES)
    line = start_line(Settings.from_env(SECURE), rules)
    assert "broker 127.0.0.1:9092 over SASL_SSL as alice, events" in line
    assert PASSWORD not in line
    assert "broker 127.0.0.1:9092, events" in start_line(Settings.from_env({}), rules)
