"""A single-node KRaft Kafka broker on 127.0.0.1 for development and tests."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from stream.errors import InfrastructureError
from stream.ops import kafka_dist, probe
from stream.ops.broker_secure import SecureListener, is_secure, secure_listener
from stream.ops.kafka_security import PLAINTEXT, KafkaSecurity
from stream.ops.procs import pid_alive, process_cmdline, wait_gone

START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0
_JAVA_OPTS = ("-Xms256m", "-Xmx1g", "-XX:+UseG1GC", "-Djava.awt.headless=true")

# Transactions need their state log and the offsets topic to fit on one broker; the
# partition counts are cut from 50 because creating them is most of a first consumer's wait.
_SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
{listeners}log.dirs={log_dir}
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=8
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
"""

_PLAIN_LISTENERS = """\
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
"""

_LOG4J_PROPERTIES = """\
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.request.logger=WARN
"""


def default_data_dir() -> Path:
    """$SEGSTREAM_DEV_BROKER_DIR, else $XDG_STATE_HOME/segstream/dev-broker (~/.local/state)."""
    explicit = os.environ.get("SEGSTREAM_DEV_BROKER_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "segstream" / "dev-broker"


@dataclass(frozen=True, slots=True)
class BrokerStatus:
    """What `status` and `start` report about a dev broker's data dir."""

    running: bool
    pid: int | None = None
    port: int | None = None
    already_running: bool = False
    client_env: Path | None = None  # a secure broker's client settings file

    @property
    def bootstrap(self) -> str:
        """host:port to hand to a Kafka client."""
        return f"127.0.0.1:{self.port}"


class DevBroker:
    """One broker whose config, storage, log and pid file live in `data_dir`."""

    def __init__(self, data_dir: Path, cache_dir: Path | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.cache_dir = cache_dir
        self.config = self.data_dir / "server.properties"
        self.log_file = self.data_dir / "broker.log"
        self._state = self.data_dir / "broker.json"
        self._lock = self.data_dir / ".lock"

    def status(self) -> BrokerStatus:
        """Whether this data dir's broker process is alive (pid file plus command line)."""
        try:
            state = json.loads(self._state.read_text())
        except (FileNotFoundError, ValueError):
            return BrokerStatus(running=False)
        pid, port = int(state["pid"]), int(state["port"])
        env = Path(state["client_env"]) if state.get("client_env") else None
        if self._is_ours(pid):
            return BrokerStatus(running=True, pid=pid, port=port, client_env=env)
        return BrokerStatus(running=False)

    def start(
        self,
        port: int = 9092,
        controller_port: int | None = None,
        timeout: float = START_TIMEOUT_S,
        *,
        secure: bool = False,
        internal_port: int | None = None,
    ) -> BrokerStatus:
        """Start the broker in the background and wait until it answers a metadata request.

        `secure`: clients connect with SASL_SSL and SCRAM-SHA-512 (stream.ops.broker_secure);
        the broker's own traffic uses `internal_port` (default PORT+2). Harmless when it
        already runs: the running broker is reported instead.
        """
        with kafka_dist.file_lock(self._lock):
            current = self.status()
            if current.running:
                return dataclasses.replace(current, already_running=True)
            if secure != is_secure(self.data_dir) and self._formatted():
                was = "with" if is_secure(self.data_dir) else "without"
                raise InfrastructureError(
                    f"{self.data_dir} holds a broker formatted {was} --secure; start it "
                    f"{was} --secure, or choose another --data-dir"
                )
            java = kafka_dist.require_tool("java")
            libs = kafka_dist.kafka_libs(self.cache_dir)
            cport = controller_port if controller_port is not None else port + 1
            iport = internal_port if internal_port is not None else port + 2
            listener = secure_listener(self.data_dir) if secure else None
            for p in (port, cport, *([iport] if secure else [])):
                _require_free_port(p)
            self._write_config(port, cport, iport, listener)
            self._format_storage(java, libs, listener)
            pid = self._spawn(java, libs)
            env = listener.write_client_env(port) if listener is not None else None
            state = {"pid": pid, "port": port, "controller_port": cport}
            self._state.write_text(json.dumps({**state, "client_env": str(env) if env else ""}))
            security = listener.security() if listener is not None else PLAINTEXT
            self._wait_ready(pid, f"127.0.0.1:{port}", timeout, security)
            return BrokerStatus(running=True, pid=pid, port=port, client_env=env)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> BrokerStatus:
        """Stop the broker: SIGTERM, then SIGKILL after `timeout`. Returns what was running."""
        if not self.data_dir.is_dir():
            return BrokerStatus(running=False)
        with kafka_dist.file_lock(self._lock):
            current = self.status()
            if current.running and current.pid is not None:
                _terminate(current.pid, timeout)
            self._state.unlink(missing_ok=True)
            return current

    def _is_ours(self, pid: int) -> bool:
        # A pid can be reused after a crash or reboot; only a process whose command line
        # names this data dir's config counts as our broker.
        return pid_alive(pid) and str(self.config) in process_cmdline(pid)

    def _formatted(self) -> bool:
        return (self.data_dir / "kraft" / "meta.properties").is_file()

    def _write_config(
        self, port: int, controller_port: int, internal_port: int, secure: SecureListener | None
    ) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if secure is None:
            listeners = _PLAIN_LISTENERS.format(port=port, controller_port=controller_port)
        else:
            listeners = secure.listener_properties(port, internal_port, controller_port)
        text = _SERVER_PROPERTIES.format(
            listeners=listeners, controller_port=controller_port, log_dir=self.data_dir / "kraft"
        )
        self.config.touch(mode=0o600)  # a secure config holds the keystore's password
        os.chmod(self.config, 0o600)
        self.config.write_text(text)
        (self.data_dir / "log4j.properties").write_text(_LOG4J_PROPERTIES)

    def _java(self, java: str, libs: Path, main: str, *args: str) -> list[str]:
        log4j = f"-Dlog4j.configuration=file:{self.data_dir / 'log4j.properties'}"
        return [java, *_JAVA_OPTS, log4j, "-cp", f"{libs}/*", main, *args]

    def _format_storage(self, java: str, libs: Path, secure: SecureListener | None) -> None:
        if self._formatted():
            return
        scram = secure.scram_arguments() if secure is not None else []
        command = self._java(
            java, libs, "kafka.tools.StorageTool", "format", "--ignore-formatted",
            "-t", kafka_uuid(), "-c", str(self.config), *scram,
        )  # fmt: skip
        done = subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise InfrastructureError(
                f"formatting the broker storage in {self.data_dir} failed; remove that "
                f"directory and start again:\n{(done.stdout + done.stderr).strip()}"
            )

    def _spawn(self, java: str, libs: Path) -> int:
        with self.log_file.open("ab") as log:
            log.write(f"\n--- segstream dev-broker start {time.ctime()} ---\n".encode())
            log.flush()
            process = subprocess.Popen(
                self._java(java, libs, "kafka.Kafka", str(self.config)),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,  # survives the CLI and is stopped as a group
            )
        return process.pid

    def _wait_ready(
        self, pid: int, bootstrap: str, timeout: float, security: KafkaSecurity
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                self._state.unlink(missing_ok=True)
                raise InfrastructureError(
                    f"the broker exited during start-up; its log {self.log_file} ends with:\n"
                    + self._log_tail()
                )
            wait = min(5.0, deadline - time.monotonic())
            if probe.answers_metadata(bootstrap, wait, security):
                return
            time.sleep(0.2)
        _terminate(pid, STOP_TIMEOUT_S)
        self._state.unlink(missing_ok=True)
        raise InfrastructureError(
            f"the broker did not answer on {bootstrap} within {timeout:.0f} s and was stopped; "
            f"its log {self.log_file} ends with:\n" + self._log_tail()
        )

    def _log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def kafka_uuid() -> str:
    """A random cluster id as `kafka-storage random-uuid` prints it, without starting a JVM.

    Like Kafka's Uuid.randomUuid it never starts with "-", which the CLI would take for a flag.
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def _require_free_port(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise InfrastructureError(
                f"port {port} on 127.0.0.1 is already in use by another process; "
                "choose others with --port/--controller-port"
            ) from None


def _terminate(pid: int, timeout: float) -> None:
    """SIGTERM the broker's process group, then SIGKILL it if it outlives `timeout`."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if wait_gone(pid, timeout):
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    wait_gone(pid, 10.0)
