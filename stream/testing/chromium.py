"""Drive Debian's headless chromium over the DevTools protocol: load a page, read it, shoot it."""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from stream.testing.processes import stop_process
from stream.testing.waiting import wait_for


def executable() -> str | None:
    """The system chromium, if installed (.ci/run installs it)."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Page:
    """One tab: send DevTools commands, and collect console errors and exceptions."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.ids = itertools.count(1)
        self.errors: list[str] = []

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self.ids)
        self.socket.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=30))
            if message.get("id") == number:
                assert "error" not in message, message
                result: dict[str, Any] = message.get("result", {})
                return result
            self._event(message)

    def _event(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.exceptionThrown":
            self.errors.append(json.dumps(params["exceptionDetails"])[:2000])
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            self.errors.append(json.dumps(params["args"])[:2000])
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.errors.append(params["entry"].get("text", "")[:2000])

    def evaluate(self, expression: str) -> Any:
        """The JSON value of `expression` in the page (awaited if it is a promise)."""
        answer = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        assert "exceptionDetails" not in answer, answer
        return answer["result"].get("value")

    def open(self, url: str, ready: str, timeout: float = 30.0) -> float:
        """Navigate to `url` and wait until `ready` is true in it; the seconds it took."""
        # The old document must not answer for the new one: mark it, and wait for a new one.
        self.evaluate("window.__segstreamOld = true")
        began = time.monotonic()
        self.send("Page.navigate", url=url)
        check = (
            "(() => { try { return !window.__segstreamOld && !!(" + ready + ") }"
            " catch (e) { return false } })()"
        )
        wait_for(lambda: self.evaluate(check), timeout, interval=0.05, what=f"{url}: {ready}")
        return time.monotonic() - began

    def screenshot(self, path: Path) -> None:
        shot = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))


@contextmanager
def browser(width: int = 1280, height: int = 1600) -> Iterator[Page]:
    """A headless chromium with one fresh tab, closed afterwards."""
    path = executable()
    assert path, "chromium is not installed (apt-get install chromium)"
    with tempfile.TemporaryDirectory(prefix="segstream-chromium-") as profile:
        proc = subprocess.Popen(
            [path, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--remote-debugging-port=0", f"--user-data-dir={profile}",
             f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            wait_for(
                lambda: port_file.exists() and port_file.read_text().strip(),
                30,
                interval=0.05,
                what="chromium's DevTools port",
            )
            port = port_file.read_text().split()[0]
            tab = httpx.put(f"http://127.0.0.1:{port}/json/new?about:blank", timeout=10).json()
            with connect(tab["webSocketDebuggerUrl"], max_size=64 * 2**20) as socket:
                page = Page(socket)
                for domain in ("Page", "Runtime", "Log"):
                    page.send(f"{domain}.enable")
                yield page
        finally:
            stop_process(proc, 10)
            # Its renderer and crashpad helpers can outlive it and still write into the
            # profile, which would make removing the directory fail: end the whole group.
            _end_group(proc.pid)


def _end_group(group: int, timeout: float = 10.0) -> None:
    """kill -9 every process left in process group `group`, and wait until none runs."""
    with suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)
    wait_for(
        lambda: not _running_in_group(group), timeout, interval=0.05, what="chromium's helpers"
    )


def _running_in_group(group: int) -> bool:
    """Whether a process of group `group` still runs (a zombie, which writes nothing, does not)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # it ended while we looked
        if int(fields[2]) == group and fields[0] != "Z":
            return True
    return False
