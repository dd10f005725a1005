"""The status page as one self-contained HTML file: its assets and the answers it reads, inlined."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit

import orjson

from stream.serving.api import ApiConfig, create_app

# What page/app.js reads, exactly as it asks for it (its `get` looks the path up).
PAGE_PATHS = ("/v1/segments", "/v1/health", "/v1/history?resolution=hour&buckets=48")
METRICS_PATH = "/metrics"
_STYLE = '<link rel="stylesheet" href="/page/style.css">'
_SCRIPT = '<script src="/page/app.js"></script>'


class SnapshotError(Exception):
    """The API answered a page read with an error (503: Redis does not answer)."""

    def __init__(self, path: str, status: int, body: bytes) -> None:
        super().__init__(f"{path}: {status} {body[:200].decode(errors='replace')}")
        self.status = status


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The answers the page reads, as the API gives them now."""

    answers: dict[str, Any]
    metrics: str


async def read_snapshot(config: ApiConfig) -> Snapshot:
    """Ask an in-process API (no port, no token) for every answer the page reads."""
    app = create_app(config)
    try:
        answers = {path: orjson.loads(await _get(app, path)) for path in PAGE_PATHS}
        metrics = (await _get(app, METRICS_PATH)).decode()
    finally:
        await app.state.backend.aclose()
    return Snapshot(answers, metrics)


def snapshot_html(snapshot: Snapshot, taken: str) -> str:
    """index.html with the stylesheet, the script and the answers inlined: opens offline."""
    page = files("stream.serving").joinpath("page")
    index = page.joinpath("index.html").read_text(encoding="utf-8")
    style = page.joinpath("style.css").read_text(encoding="utf-8")
    script = page.joinpath("app.js").read_text(encoding="utf-8")
    data = {"answers": snapshot.answers, "metrics": snapshot.metrics, "taken": taken}
    assert _STYLE in index and _SCRIPT in index, "page/index.html no longer links its assets"
    inline = (
        f"<script>window.SEGSTREAM_SNAPSHOT = {_script_json(data)};</script>\n"
        f"<script>\n{script}</script>"
    )
    return index.replace(_STYLE, f"<style>\n{style}</style>").replace(_SCRIPT, inline)


def _script_json(value: object) -> str:
    """JSON safe inside <script>: every `<`, `>` and `&` (only ever inside JSON strings) as a
    \\u escape, so no text in the data can close the element."""
    text = orjson.dumps(value).decode()
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


async def _get(app: Any, target: str) -> bytes:
    """One GET through the ASGI app itself: the answer the page would get over HTTP."""
    url = urlsplit(target)
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": url.path, "raw_path": url.path.encode(),
        "query_string": url.query.encode(), "headers": [], "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 80),
    }  # fmt: skip
    status, body = 500, bytearray()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    await app(scope, receive, send)
    if status != 200:
        raise SnapshotError(target, status, bytes(body))
    return bytes(body)
