"""Redis with TLS and an ACL user: the materialiser and the API connect with rediss:// and a CA.

The Redis server is this module's own: `redis-server` with a TLS port only, a certificate
signed by a CA made here with `openssl`, the default user off and one ACL user with a password.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from redis import exceptions

from stream.serving.connection import connect, redact
from stream.testing.membership import rebuild
from stream.testing.processes import stop_process
from stream.testing.waiting import wait_for
from tests.e2e.harness import produce
from tests.integration.serving.test_serving_redelivery import SEGMENTS, _rules, history
from tests.support.serving import Api, Process, assert_serves, end_position, free_port, wait_served

PASSWORD = "r3dis-pa55-never-logged"


@dataclass(frozen=True)
class TlsRedis:
    url: str  # rediss://alice:PASSWORD@127.0.0.1:PORT/0
    ca_file: Path


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def _certificates(where: Path) -> tuple[Path, Path, Path]:
    """A CA, and a server key and certificate for 127.0.0.1 that the CA signed."""
    ca_key, ca, key, csr, cert = (
        where / n for n in ("ca.key", "ca.pem", "s.key", "s.csr", "s.pem")
    )
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
             "-days", "2", "-subj", "/CN=segstream test CA")  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
             "-subj", "/CN=127.0.0.1")  # fmt: skip
    ext = where / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
             "-out", cert, "-days", "2", "-extfile", ext)  # fmt: skip
    return ca, key, cert


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRedis]:
    server = shutil.which("redis-server")
    assert server is not None, "redis-server is a prerequisite (apt-get install redis-server)"
    where = tmp_path_factory.mktemp("tls-redis")
    ca, key, cert = _certificates(where)
    port = free_port()
    acl = where / "users.acl"
    acl.write_text(f"user default off\nuser alice on >{PASSWORD} ~* &* +@all\n")
    proc = subprocess.Popen(
        [server, "--port", "0", "--tls-port", str(port), "--tls-cert-file", str(cert),
         "--tls-key-file", str(key), "--tls-ca-cert-file", str(ca), "--tls-auth-clients", "no",
         "--aclfile", str(acl), "--save", "", "--appendonly", "no", "--dir", str(where)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    found = TlsRedis(f"rediss://alice:{PASSWORD}@127.0.0.1:{port}/0", ca)
    try:
        wait_for(lambda: asyncio.run(_answers(found)), 30, what="the TLS Redis to answer")
        yield found
    finally:
        assert stop_process(proc, 30) is not None, "the TLS Redis did not stop"


async def _answers(redis: TlsRedis) -> bool:
    try:
        client = await connect(redis.url, redis.ca_file)
    except (exceptions.ConnectionError, OSError):
        return False
    await client.aclose()
    return True


def test_materializer_and_api_serve_over_tls_with_an_acl_user(
    kafka_bootstrap: str, tls_redis: TlsRedis, namespace: str, tmp_path: Path
) -> None:
    changes = [c for n in range(5) for c in history(f"c-{n}")]
    topic = f"{namespace}-changes"
    produce(kafka_bootstrap, topic, [orjson.dumps(c) for c in changes], 2)
    # The URL comes in the environment, as a deployment passes it: a command line is public.
    env = {"SEGSTREAM_REDIS_URL": tls_redis.url, "SEGSTREAM_REDIS_CA_FILE": str(tls_redis.ca_file)}
    common = ["--app-id", namespace]
    reads = ["--broker", f"kafka://{kafka_bootstrap}", "--changes-topic", topic]
    mat = Process(["materialize", *reads, *common], tmp_path, "materialize", env).start()
    port = free_port()
    args = ["api", *common, "--port", str(port), "--rules", str(_rules(tmp_path))]
    server = Api(Process(args, tmp_path, "api", {**env, "SEGSTREAM_API_TOKEN": ""}), port, None)
    server.process.start()
    try:
        server.wait_ready()
        with server.client() as client:
            wait_served(client, end_position(kafka_bootstrap, topic))
            assert_serves(client, rebuild(changes), SEGMENTS)
    finally:
        mat.stop()
        server.process.stop()
    for process in (mat, server.process):
        process.assert_healthy()
        assert PASSWORD not in process.log_text()
    assert redact(tls_redis.url) in mat.log_text()


async def test_a_wrong_password_or_a_missing_ca_says_so_without_the_password(
    tls_redis: TlsRedis,
) -> None:
    wrong = tls_redis.url.replace(PASSWORD, "not-" + PASSWORD)
    with pytest.raises(exceptions.AuthenticationError) as denied:
        await connect(wrong, tls_redis.ca_file)
    assert PASSWORD not in str(denied.value)
    with pytest.raises(exceptions.ConnectionError) as untrusted:
        await connect(tls_redis.url)  # the system's CAs do not know the test CA
    assert "certificate verify failed" in str(untrusted.value)
    assert PASSWORD not in str(untrusted.value)
