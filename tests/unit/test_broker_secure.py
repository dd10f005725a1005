"""The dev broker's secure set-up: private files, a certificate Python trusts, a salted SCRAM."""

from __future__ import annotations

import base64
import hashlib
import re
import ssl
import stat
from pathlib import Path

import pytest

from stream.errors import InfrastructureError
from stream.ops.broker import DevBroker
from stream.ops.broker_secure import SCRAM_ITERATIONS, is_secure, secure_listener


def test_made_once_with_private_secrets_and_a_trusted_certificate(tmp_path: Path) -> None:
    assert not is_secure(tmp_path)
    listener = secure_listener(tmp_path)
    assert is_secure(tmp_path)
    assert secure_listener(tmp_path) == listener  # the same passwords and files again
    assert listener.password not in repr(listener)
    secrets_file = tmp_path / "secure" / "secrets.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    context = ssl.create_default_context(cafile=str(listener.ca_file))
    assert context.get_ca_certs()[0]["subjectAltName"] == (
        ("IP Address", "127.0.0.1"),
        ("DNS", "localhost"),
    )
    env = listener.write_client_env(19092)
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert f"SEGSTREAM_KAFKA_SASL_PASSWORD={listener.password}\n" in env.read_text()


def test_the_scram_user_is_added_with_a_salted_password_only(tmp_path: Path) -> None:
    listener = secure_listener(tmp_path)
    flag, value = listener.scram_arguments()
    assert flag == "--add-scram"
    assert listener.password not in value
    found = re.fullmatch(
        r'SCRAM-SHA-512=\[name=segstream,salt="([^"]+)",saltedpassword="([^"]+)",'
        r"iterations=(\d+)\]",
        value,
    )
    assert found is not None, value
    salt, salted = (base64.b64decode(found[i]) for i in (1, 2))
    assert int(found[3]) == SCRAM_ITERATIONS
    assert salted == hashlib.pbkdf2_hmac("sha512", listener.password.encode(), salt, 8192)


def test_a_data_dir_keeps_the_mode_it_was_formatted_in(tmp_path: Path) -> None:
    (tmp_path / "kraft").mkdir()
    (tmp_path / "kraft" / "meta.properties").write_text("version=1\n")
    with pytest.raises(InfrastructureError, match="formatted without --secure; start it without"):
        DevBroker(tmp_path).start(secure=True)
    secure_listener(tmp_path)
    with pytest.raises(InfrastructureError, match="formatted with --secure; start it with"):
        DevBroker(tmp_path).start()
