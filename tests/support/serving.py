"""Drive `segstream materialize` and `segstream api` processes, and check what they serve."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from stream.serving.topic import end_position as topic_end
from stream.testing.membership import Membership
from stream.testing.processes import kill_process, stop_process
from stream.testing.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
CLI = "from stream.cli.main import main; main()"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Process:
    """One `segstream` subprocess with its log files, restartable."""

    args: list[str]
    workdir: Path
    tag: str
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)

    def start(self) -> Process:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        log = self.workdir / f"{self.tag}-{len(self.logs) + 1}.log"
        self.logs.append(log)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", CLI, *self.args],
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """kill -9: no cleanup of any kind."""
        assert self.proc is not None
        kill_process(self.proc)

    def stop(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        code = stop_process(self.proc, timeout)
        assert code is not None, f"{self.tag} did not stop in {timeout} s"
        return code

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.exists())

    def assert_healthy(self) -> None:
        text = self.log_text()
        for bad in ("Traceback", "[ERROR]", "[CRITICAL]"):
            assert bad not in text, f"{bad} in {self.tag} log:\n{text[-4000:]}"


def materializer(
    workdir: Path, bootstrap: str, topic: str, redis_url: str, namespace: str, *extra: str
) -> Process:
    args = ["materialize", "--broker", f"kafka://{bootstrap}", "--changes-topic", topic,
            "--redis", redis_url, "--app-id", namespace, *extra]  # fmt: skip
    return Process(args, workdir, "materialize")


@dataclass
class Api:
    """A `segstream api` subprocess on a free port, and a client for it."""

    process: Process
    port: int
    token: str | None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=10.0)

    def wait_ready(self, timeout: float = 30.0) -> None:
        def ready() -> bool:
            assert self.process.alive(), f"the API exited:\n{self.process.log_text()[-3000:]}"
            try:
                return httpx.get(self.base + "/healthz", timeout=1.0).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(ready, timeout, interval=0.1, what="the API to answer /healthz")


def api(
    workdir: Path, redis_url: str, namespace: str, rules: Path | None, token: str | None = None
) -> Api:
    port = free_port()
    args = ["api", "--redis", redis_url, "--app-id", namespace, "--port", str(port)]
    if rules is not None:
        args += ["--rules", str(rules)]
    env = {"SEGSTREAM_API_TOKEN": token or ""}
    return Api(Process(args, workdir, "api", env), port, token)


def end_position(bootstrap: str, topic: str) -> str:
    """The min_position token of everything on `topic` now."""
    return asyncio.run(topic_end(bootstrap, topic))


def wait_served(client: httpx.Client, position: str, timeout: float = 120.0) -> dict[str, Any]:
    """Wait until the API has applied `position`; return its /v1/segments answer then."""
    assert position, "an empty position is reached at once; is the topic empty?"

    def served() -> dict[str, Any] | None:
        try:
            answer = client.get("/v1/segments", params={"min_position": position, "wait_ms": 1000})
        except httpx.TransportError:
            return None
        if answer.status_code in (409, 503):
            return None
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    return wait_for(served, timeout, interval=0.05, what=f"the API to reach {position}")


def walk(client: httpx.Client, segment: str, limit: int) -> list[str]:
    """Every member of `segment`, following `next` page by page."""
    members: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        answer = client.get(f"/v1/segments/{segment}/members", params=params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert len(page["members"]) <= limit
        members.extend(page["members"])
        cursor = page["next"]
        if cursor is None:
            return members


def assert_serves(client: httpx.Client, expected: Membership, segments: list[str]) -> None:
    """Every contact's answer, every segment's walk and size equal `expected`."""
    listed = {s["id"]: s for s in client.get("/v1/segments").json()["segments"]}
    assert list(listed) == segments, (list(listed), segments)
    sizes = expected.sizes()
    served = {s: (listed[s]["size"], listed[s]["held_out"]) for s in segments}
    wanted = {s: sizes.get(s, (0, 0)) for s in segments}
    assert served == wanted, {s: (served[s], wanted[s]) for s in segments if served[s] != wanted[s]}
    for segment in segments:
        members = walk(client, segment, limit=7)
        assert members == expected.members(segment), (segment, members, expected.members(segment))
    for contact_id, view in expected.contacts.items():
        answer = client.get(f"/v1/contacts/{contact_id}")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        got = {s["id"]: (s["since"], s["holdout"]) for s in body["segments"]}
        assert got == view.segments, (contact_id, got, view.segments)
        assert (body["stage"], body["seq"]) == (view.stage, view.seq), (contact_id, body, view)


@dataclass
class RedisServer:
    """A redis-server of the test's own on a free port, with an append-only file to restart from."""

    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                "--appendonly", "yes", "--dir", str(self.workdir),
                "--logfile", str(self.workdir / "redis.log")]  # fmt: skip
        self.proc = subprocess.Popen(args)
        wait_for(self._answers, 20, interval=0.05, what=f"Redis on port {self.port}")
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM: Redis flushes its append-only file and exits."""
        assert self.proc is not None
        assert stop_process(self.proc, 30) is not None, f"Redis on port {self.port} did not stop"
