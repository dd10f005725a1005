"""The pinned Apache Kafka jars for the dev broker: resolved once with Maven, then cached."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from stream.errors import InfrastructureError

KAFKA_VERSION = "3.9.1"
INSTALL_HINT = "apt-get install -y default-jre-headless maven"
_COMPLETE = "COMPLETE"
_MVN_TIMEOUT_S = 900


def pom_bytes() -> bytes:
    """The pom shipped with the package (deploy/kafka/pom.xml in the repository)."""
    return resources.files("stream.ops").joinpath("kafka", "pom.xml").read_bytes()


def default_cache_dir() -> Path:
    """$SEGSTREAM_CACHE_DIR, else $XDG_CACHE_HOME/segstream, else ~/.cache/segstream."""
    explicit = os.environ.get("SEGSTREAM_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "segstream"


def require_tool(name: str) -> str:
    """Path of an executable on PATH; a one-line error saying what to install otherwise."""
    found = shutil.which(name)
    if found is None:
        raise InfrastructureError(
            f"`{name}` was not found on PATH; the dev broker needs Java 17+ and Maven: "
            f"install them with `{INSTALL_HINT}`"
        )
    return found


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` so concurrent CLI calls take turns."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def kafka_libs(cache_dir: Path | None = None) -> Path:
    """Directory holding the broker's jars, resolving them with `mvn` on first use.

    The cache key includes a hash of the pom, so editing the pom resolves afresh; a copy is
    only reused once its COMPLETE marker exists, so an interrupted download is never used.
    """
    pom = pom_bytes()
    root = cache_dir or default_cache_dir()
    target = root / f"kafka-{KAFKA_VERSION}-{hashlib.sha256(pom).hexdigest()[:12]}"
    if (target / _COMPLETE).is_file():
        return target / "libs"
    with file_lock(root / ".resolve.lock"):
        if (target / _COMPLETE).is_file():
            return target / "libs"
        _resolve(pom, target)
    return target / "libs"


def _resolve(pom: bytes, target: Path) -> None:
    mvn = require_tool("mvn")
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=target.name + ".partial-", dir=target.parent))
    try:
        (work / "pom.xml").write_bytes(pom)
        command = [
            mvn,
            "-q",
            "-B",
            "-Dstyle.color=never",
            "-f",
            str(work / "pom.xml"),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={work / 'libs'}",
        ]
        try:
            done = subprocess.run(
                command,
                cwd=work,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=_MVN_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise InfrastructureError(
                f"mvn did not resolve Kafka {KAFKA_VERSION} within {_MVN_TIMEOUT_S} s; "
                "check that Maven can reach its repository and try again"
            ) from None
        if done.returncode != 0 or not any((work / "libs").glob("kafka_2.13-*.jar")):
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
            raise InfrastructureError(
                f"mvn could not resolve Kafka {KAFKA_VERSION} (exit {done.returncode}); "
                f"check that Maven can reach its repository and try again:\n{tail}"
            )
        (work / _COMPLETE).write_text(f"kafka {KAFKA_VERSION}\n")
        if target.exists():
            shutil.rmtree(target)
        work.rename(target)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
