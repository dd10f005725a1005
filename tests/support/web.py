"""Tests of the worker's endpoints: a worker that serves them, free ports, GET, parsed /metrics."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.harness import Names, WorkerProcess
from tests.support import EXAMPLE_RULES

Labels = tuple[tuple[str, str], ...]


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def web_worker(
    bootstrap: str, names: Names, workdir: Path, *, partitions: int
) -> tuple[WorkerProcess, int]:
    """A worker on the example rules that serves its web endpoints on a free port; and the port."""
    port = free_port()
    worker = WorkerProcess(
        bootstrap, EXAMPLE_RULES, names, workdir, partitions=partitions,
        extra=["--web-port", str(port)],
    )  # fmt: skip
    return worker, port


def get(url: str, timeout: float = 5.0) -> tuple[int, bytes] | None:
    """(status, body) of GET `url`; None while nothing answers there."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def get_json(url: str) -> tuple[int, Any] | None:
    found = get(url)
    return None if found is None else (found[0], orjson.loads(found[1]))


def scrape(port: int) -> dict[str, dict[Labels, float]] | None:
    """The worker's /metrics, parsed with prometheus-client's parser: per sample name, the
    value of each label set. None while the web server does not answer."""
    found = get(f"http://127.0.0.1:{port}/metrics")
    if found is None or found[0] != 200:
        return None
    samples: dict[str, dict[Labels, float]] = {}
    for family in text_string_to_metric_families(found[1].decode()):
        for one in family.samples:
            labels = tuple(sorted(one.labels.items()))
            samples.setdefault(one.name, {})[labels] = one.value
    return samples
