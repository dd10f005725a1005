"""The dev broker's SASL_SSL listener: a self-signed certificate, a SCRAM user, a client env file.

Made once per data dir, at the first `dev-broker start --secure`: a random SCRAM-SHA-512
password for the user `segstream` and a random keystore password (`secure/secrets.json`),
and, with the JDK's `keytool`, a key pair whose self-signed certificate names 127.0.0.1 and
localhost and is marked a CA, so that it is its own trust anchor (`secure/broker.p12`; the
certificate as PEM in `secure/ca.pem`). The user is added, as a salted password, when the
storage is formatted (`--add-scram`; KRaft keeps it in the metadata log). Every start
writes `client.env`: the SEGSTREAM_* settings a client needs, the password included. Files
holding a secret are readable by their owner only (0600).

Clients reach the broker on the SASL_SSL listener only. The KRaft controller and the
broker's own inter-broker traffic use PLAINTEXT listeners on 127.0.0.1, as a single node
needs no more; so a local process can still reach those two ports without a password.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from stream.errors import InfrastructureError
from stream.ops import kafka_dist
from stream.ops.kafka_security import KafkaSecurity

USER = "segstream"
MECHANISM = "SCRAM-SHA-512"
SCRAM_ITERATIONS = 8192
CERT_DAYS = 3650  # a dev broker's certificate should not expire under a long-lived data dir

_LISTENERS = """\
listeners=SASL_SSL://127.0.0.1:{port},INTERNAL://127.0.0.1:{internal_port},\
CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=SASL_SSL://127.0.0.1:{port},INTERNAL://127.0.0.1:{internal_port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=SASL_SSL:SASL_SSL,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=INTERNAL
sasl.enabled.mechanisms={mechanism}
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=\
org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PKCS12
ssl.keystore.location={keystore}
ssl.keystore.password={keystore_password}
ssl.key.password={keystore_password}
"""


@dataclass(frozen=True, slots=True)
class SecureListener:
    """The secure set-up of one data dir: where its files are, and its secrets."""

    directory: Path
    password: str = field(repr=False)
    keystore_password: str = field(repr=False)

    @property
    def keystore(self) -> Path:
        return self.directory / "broker.p12"

    @property
    def ca_file(self) -> Path:
        """The broker's self-signed certificate, PEM: the CA file a client trusts."""
        return self.directory / "ca.pem"

    @property
    def client_env(self) -> Path:
        """The client settings file, next to the broker's data (`set -a; . FILE; set +a`)."""
        return self.directory.parent / "client.env"

    def security(self) -> KafkaSecurity:
        """How a client of this broker connects."""
        return KafkaSecurity("SASL_SSL", MECHANISM, USER, self.password, self.ca_file)

    def listener_properties(self, port: int, internal_port: int, controller_port: int) -> str:
        """The listener lines of server.properties."""
        return _LISTENERS.format(
            port=port, internal_port=internal_port, controller_port=controller_port,
            mechanism=MECHANISM, keystore=self.keystore, keystore_password=self.keystore_password,
        )  # fmt: skip

    def scram_arguments(self) -> list[str]:
        """The storage tool's arguments that add the SCRAM user at format time.

        They carry the salted password (SCRAM's Hi, PBKDF2-HMAC-SHA-512), not the password:
        a command line is visible to every local user.
        """
        salt = secrets.token_bytes(24)
        salted = hashlib.pbkdf2_hmac("sha512", self.password.encode(), salt, SCRAM_ITERATIONS)
        fields = (
            f'name={USER},salt="{base64.b64encode(salt).decode()}",'
            f'saltedpassword="{base64.b64encode(salted).decode()}",iterations={SCRAM_ITERATIONS}'
        )
        return ["--add-scram", f"{MECHANISM}=[{fields}]"]

    def write_client_env(self, port: int) -> Path:
        """Write the settings a client needs for the broker on `port`; returns the file."""
        lines = {
            "SEGSTREAM_BROKER": f"kafka://127.0.0.1:{port}",
            "SEGSTREAM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "SEGSTREAM_KAFKA_SASL_MECHANISM": MECHANISM,
            "SEGSTREAM_KAFKA_SASL_USERNAME": USER,
            "SEGSTREAM_KAFKA_SASL_PASSWORD": self.password,
            "SEGSTREAM_KAFKA_CA_FILE": str(self.ca_file),
        }
        _write_private(self.client_env, "".join(f"{k}={v}\n" for k, v in lines.items()))
        return self.client_env


def is_secure(data_dir: Path) -> bool:
    """Whether `data_dir` was set up by a `--secure` start."""
    return (data_dir / "secure" / "secrets.json").is_file()


def secure_listener(data_dir: Path) -> SecureListener:
    """The secure set-up of `data_dir`, made on first use (passwords, key pair, certificate)."""
    directory = data_dir / "secure"
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    secrets_file = directory / "secrets.json"
    if not secrets_file.is_file():
        made = {"password": secrets.token_hex(16), "keystore_password": secrets.token_hex(16)}
        _write_private(secrets_file, json.dumps(made))
    stored = json.loads(secrets_file.read_text())
    listener = SecureListener(directory, stored["password"], stored["keystore_password"])
    if not (listener.keystore.is_file() and listener.ca_file.is_file()):
        _make_certificate(listener)
    return listener


def _make_certificate(listener: SecureListener) -> None:
    keytool = kafka_dist.require_tool("keytool")
    for stale in (listener.keystore, listener.ca_file):
        stale.unlink(missing_ok=True)
    store = ["-keystore", str(listener.keystore), "-storetype", "PKCS12",
             "-storepass:env", "SEGSTREAM_KEYSTORE_PASSWORD"]  # fmt: skip
    _keytool(
        listener, keytool, "-genkeypair", "-alias", "broker", "-keyalg", "RSA",
        "-keysize", "2048", "-validity", str(CERT_DAYS), "-dname", "CN=segstream dev broker",
        "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-ext", "bc:c", *store,
    )  # fmt: skip
    _keytool(
        listener, keytool, "-exportcert", "-rfc", "-alias", "broker",
        "-file", str(listener.ca_file), *store,
    )  # fmt: skip


def _keytool(listener: SecureListener, keytool: str, *args: str) -> None:
    # The password goes in the environment: a command line is visible to every local user.
    env = {**os.environ, "SEGSTREAM_KEYSTORE_PASSWORD": listener.keystore_password}
    done = subprocess.run(
        [keytool, *args], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise InfrastructureError(
            f"keytool {args[0]} failed making the dev broker's certificate in "
            f"{listener.directory}: {(done.stdout + done.stderr).strip()}"
        )


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, readable and writable by its owner only, from the start."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
    with os.fdopen(fd, "w") as out:
        out.write(text)
