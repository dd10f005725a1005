"""A progress bar on standard error for long runs, drawn only when a person is watching."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any, Self

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

UPDATE_EVERY = 2048  # lines between two updates of the bar: negligible next to a line's work


def wanted(*, writes_stdout: bool = False) -> bool:
    """Whether to draw a bar: standard error is a terminal.

    A command that writes its results to standard output draws none when that is a terminal
    too: the results show the progress, and bytes written past the bar would garble it.
    """
    if not sys.stderr.isatty():
        return False
    return not (writes_stdout and sys.stdout.isatty())


def file_size(source: Any) -> int | None:
    """The size of `source` when it is a regular file (so a bar can show a share), else None."""
    try:
        info = os.fstat(source.fileno())
    except (AttributeError, OSError, ValueError):
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


class Bar:
    """One bar on standard error; `update(done)` moves it, `lines` shows a line count."""

    def __init__(self, label: str, total: float | None, *, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        if enabled:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[count]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._task = self._progress.add_task(label, total=total, count="")

    def __enter__(self) -> Self:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(self, done: float, count: str = "") -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=done, count=count)


def track_lines(
    lines: Iterable[bytes], label: str, total_bytes: int | None, *, enabled: bool
) -> Iterator[bytes]:
    """`lines`, with a bar (when `enabled`) moved by the bytes read, of `total_bytes` if known."""
    if not enabled:
        yield from lines
        return
    with Bar(label, total_bytes, enabled=True) as bar:
        done = 0
        for number, line in enumerate(lines, start=1):
            done += len(line)
            if number % UPDATE_EVERY == 0:
                bar.update(done, f"{number:,} lines")
            yield line
