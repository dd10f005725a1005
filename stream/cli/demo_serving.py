"""The end of `segstream demo`: the changes materialised in Redis, answered by the API."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import click
import redis

from stream.core.changes import Change
from stream.serving.topic import end_position
from stream.testing.membership import rebuild

SERVED_TIMEOUT_S = 60.0
CLI = "from stream.cli.main import main; main()"


def show_served(
    bootstrap: str, topic: str, redis_url: str, run: str, changes: list[Change], serve: bool
) -> Path | None:
    """Materialise `topic` into Redis, start the API, and show one contact and one segment.

    Then write the status page as one file (its path is returned; None without Redis) and,
    with `serve`, keep the API up with the live page until Ctrl-C.
    """
    click.echo("")
    with _redis(redis_url) as url:
        if url is None:
            hint = "apt-get install -y redis-server, or set SEGSTREAM_REDIS_URL"
            click.echo(f"No Redis at {redis_url} and no redis-server to start: skipping the API "
                       f"({hint}).")  # fmt: skip
            return None
        namespace = f"segstream-demo-{run}"
        with tempfile.TemporaryDirectory(prefix="segstream-demo-serving-") as tmp:
            port = _free_port()
            common = ["--redis", url, "--app-id", namespace]
            rules = str(files("stream").joinpath("examples/segments.yaml"))
            mat = _start(["materialize", "--broker", f"kafka://{bootstrap}",
                          "--changes-topic", topic, *common, "--rules", rules],
                         Path(tmp) / "mat.log")  # fmt: skip
            api = _start(["api", *common, "--rules", rules, "--port", str(port)],
                         Path(tmp) / "api.log", token="")  # fmt: skip
            try:
                base = f"http://127.0.0.1:{port}"
                click.echo(f"Materialising the changes into {url} (namespace {namespace}) and "
                           f"serving them at {base}:")  # fmt: skip
                _ask(base, changes, asyncio.run(end_position(bootstrap, topic)))
                page = _report(common, rules, Path(tempfile.gettempdir()) / f"{namespace}.html")
                if serve:
                    _serve(base)
                return page
            finally:
                for proc in (mat, api):
                    proc.terminate()
                    proc.wait(30)
                _forget(url, namespace)


def _ask(base: str, changes: list[Change], position: str) -> None:
    membership = rebuild(change.to_json() for change in changes)
    contact = max(membership.contacts, key=lambda c: len(membership.contacts[c].segments))
    sizes = membership.sizes()
    segment = max(sizes, key=lambda s: sizes[s][0]) if sizes else "marketing_qualified"
    # Read-your-writes: wait until the API has applied the last change of every partition.
    deadline = time.monotonic() + SERVED_TIMEOUT_S
    query = f"?min_position={position}&wait_ms=2000"
    while _get(base, "/v1/segments" + query) is None:
        if time.monotonic() > deadline:
            raise click.ClickException("the API did not catch up with the changes in time")
        time.sleep(0.1)  # the API is still starting
    for path in (f"/v1/contacts/{contact}", f"/v1/segments/{segment}",
                 f"/v1/segments/{segment}/members?limit=5"):  # fmt: skip
        click.echo(f"  $ curl -s {base}{path}")
        click.echo("  " + json.dumps(_get(base, path), ensure_ascii=False))


def _report(common: list[str], rules: str, target: Path) -> Path:
    """The status page of the demo's data as one file (`segstream report --html`)."""
    done = subprocess.run(
        [sys.executable, "-c", CLI, "report", "--html", str(target), *common, "--rules", rules],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise click.ClickException(f"segstream report --html failed:\n{done.stderr[-2000:]}")
    return target


def _serve(base: str) -> None:
    """Keep the API up (its status page live) until Ctrl-C."""
    click.echo("")
    click.echo(f"The status page, live: {base}/  (Ctrl-C stops the API and cleans up)")
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)


def _get(base: str, path: str) -> Any:
    """The JSON answer of a GET, or None while the API is not up or not caught up."""
    try:
        with urllib.request.urlopen(base + path, timeout=10) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as error:
        if error.code in (409, 503):
            return None
        raise click.ClickException(f"GET {path}: {error.code} {error.read()!r}") from None
    except (urllib.error.URLError, ConnectionError):
        return None


@contextlib.contextmanager
def _redis(url: str) -> Iterator[str | None]:
    """`url` if Redis answers there, else a throwaway local redis-server, else None."""
    if _answers(url):
        yield url
        return
    if shutil.which("redis-server") is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="segstream-demo-redis-") as tmp:
        port = _free_port()
        # Its own session, like the API's and the materialiser's: Ctrl-C (which ends --serve)
        # reaches the demo alone, which then stops them in order and cleans up.
        proc = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port),
                                 "--save", "", "--appendonly", "no", "--dir", tmp],
                                stdout=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        try:
            local = f"redis://127.0.0.1:{port}/0"
            click.echo(f"No Redis at {url}: started a throwaway redis-server at {local}.")
            yield local
        finally:
            proc.terminate()
            proc.wait(30)


def _answers(url: str) -> bool:
    with contextlib.suppress(redis.RedisError), redis.Redis.from_url(url) as client:
        return bool(client.ping())
    return False


def _start(args: list[str], log: Path, token: str | None = None) -> subprocess.Popen[bytes]:
    env = None if token is None else {**os.environ, "SEGSTREAM_API_TOKEN": token}
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-c", CLI, *args, "--loglevel", "warning"],
                                stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)  # fmt: skip


def _forget(url: str, namespace: str) -> None:
    """Delete the demo's keys: it leaves the user's Redis as it found it."""
    with redis.Redis.from_url(url) as client:
        keys = [*client.scan_iter(match=f"{{{namespace}:p*"), f"{namespace}:meta"]
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
