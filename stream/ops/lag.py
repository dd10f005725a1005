"""Consumer lag of the worker group: samples per partition and their status, after Burrow.

Pure: the offsets come from `stream.ops.offsets`, the time of each sample is given. The
rules are Burrow's evaluator (linkedin/Burrow `core/internal/evaluator/caching.go`) over a
window of samples, as shared/spec/operations.md states them:

- `REWIND`: the committed offset went backwards between two samples of the window. Unlike
  Burrow, this does not need the lag to have stayed above 0: a reset from a caught-up group
  is what an operator most needs to see, and Burrow's first rule would hide it.
- `OK` whenever the lag is 0 now or was 0 in any sample of the window (Burrow's first rule).
- `STOP`: no commit for longer than the window spans (from its first to its last sample).
- `STALL`: the committed offset did not move across the window.
- `WARN`: the lag never fell from one sample to the next.
- `OK` otherwise.

Until a partition has `size` samples there is no window yet, and the single-sample rule
applies: `STOP` when the lag is above 0 and the last commit is older than `stop_after`,
else `OK`. Lag in seconds is read from the record at the committed offset, never
interpolated (kafka-lag-exporter interpolates from sampled end offsets, and its users saw
NaN on idle topics, issue 111, and a lag that bounced between 0 and 30 s, issue 353).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Literal

from stream.core.timefmt import format_ts

Status = Literal["OK", "WARN", "STALL", "STOP", "REWIND"]
GroupStatus = Literal["OK", "WARN", "ERR"]
STATUSES: tuple[Status, ...] = ("OK", "WARN", "STALL", "STOP", "REWIND")
ERRORS: frozenset[Status] = frozenset({"STALL", "STOP", "REWIND"})

EXIT_CODES: dict[GroupStatus, int] = {"OK": 0, "WARN": 1, "ERR": 2}
EXIT_UNREACHABLE = 3  # the broker could not be reached
EXIT_NO_OFFSETS = 4  # the group has no committed offset on any of its partitions


@dataclass(frozen=True, slots=True)
class Reading:
    """What the broker says about one partition of the group, at one moment."""

    topic: str
    partition: int
    committed: int | None  # the group's committed offset; None when it has none
    start: int  # the log's first offset (where the worker starts without a commit)
    end: int  # the log end offset
    # Timestamp (ms) of the first record at or after the consumed position; None when it
    # could not be read in time, or there is none.
    oldest_ms: int | None
    commit_ms: int | None  # when the group last committed it; None: not within the look-back
    # True when the offsets left before the end hold no record, only transaction markers
    # (a transactional producer's commit marker takes an offset and is never delivered).
    markers_only: bool = False


@dataclass(frozen=True, slots=True)
class Sample:
    """One partition's lag at instant `at_ms`."""

    at_ms: int
    committed: int | None
    end: int
    lag: int  # messages between the consumed position and the end
    lag_seconds: float | None  # age of the oldest of them; None only when it could not be read
    commit_ms: int | None


def sample(reading: Reading, at_ms: int) -> Sample:
    """The lag of `reading` at `at_ms`.

    Without a committed offset the worker starts at the log's beginning, so that is its
    position. When no record is left between the position and the end (only transaction
    markers, which take offsets but are never delivered), the lag is 0.
    """
    position = reading.start if reading.committed is None else reading.committed
    lag = 0 if reading.markers_only else max(0, reading.end - position)
    seconds: float | None = 0.0
    if lag and reading.oldest_ms is None:
        seconds = None
    elif lag and reading.oldest_ms is not None:
        seconds = max(0, at_ms - reading.oldest_ms) / 1000
    return Sample(at_ms, reading.committed, reading.end, lag, seconds, reading.commit_ms)


def single_status(latest: Sample, stop_after_ms: int) -> Status:
    """The status from one sample: `STOP` if there is lag and no commit for `stop_after_ms`."""
    if latest.lag == 0:
        return "OK"
    if latest.commit_ms is None or latest.at_ms - latest.commit_ms > stop_after_ms:
        return "STOP"
    return "OK"


def window_status(window: Sequence[Sample]) -> Status:
    """The status over a window of at least two samples of one partition, oldest first."""
    pairs = list(pairwise(window))
    if any(_went_back(a, b) for a, b in pairs):
        return "REWIND"
    if any(s.lag == 0 for s in window):
        return "OK"
    first, last = window[0], window[-1]
    span = last.at_ms - first.at_ms
    if last.commit_ms is None or last.at_ms - last.commit_ms > span:
        return "STOP"
    if all(a.committed == b.committed for a, b in pairs):
        return "STALL"
    if all(b.lag >= a.lag for a, b in pairs):
        return "WARN"
    return "OK"


def _went_back(a: Sample, b: Sample) -> bool:
    return a.committed is not None and b.committed is not None and b.committed < a.committed


def partition_status(samples: Sequence[Sample], size: int, stop_after_ms: int) -> Status:
    """The status of a partition from its samples, oldest first: over the last `size` once
    there are that many (and `size` is at least 2), else from the latest alone."""
    if size < 2 or len(samples) < size:
        return single_status(samples[-1], stop_after_ms)
    return window_status(samples[-size:])


def group_status(statuses: Iterable[Status]) -> GroupStatus:
    """`ERR` if any partition is `STALL`, `STOP` or `REWIND`, else `WARN` if any is, else `OK`."""
    seen = set(statuses)
    if seen & ERRORS:
        return "ERR"
    return "WARN" if "WARN" in seen else "OK"


Key = tuple[str, int]  # (topic, partition)


class Windows:
    """The last samples of every partition of a group, and their statuses."""

    def __init__(self, size: int, stop_after_ms: int) -> None:
        self.size = max(1, size)
        self.stop_after_ms = stop_after_ms
        self._samples: dict[Key, list[Sample]] = {}

    def add(self, key: Key, one: Sample) -> None:
        """Record `one` as the latest sample of `key`."""
        samples = self._samples.setdefault(key, [])
        samples.append(one)
        del samples[: -self.size]

    def keep(self, keys: Iterable[Key]) -> None:
        """Forget every partition not in `keys` (one the worker no longer owns)."""
        wanted = set(keys)
        for key in [k for k in self._samples if k not in wanted]:
            del self._samples[key]

    def latest(self) -> list[tuple[Key, Sample, Status]]:
        """Per partition, in order: its latest sample and its status."""
        return [
            (key, samples[-1], partition_status(samples, self.size, self.stop_after_ms))
            for key, samples in sorted(self._samples.items())
        ]


@dataclass(frozen=True, slots=True)
class Row:
    """One line of `segstream lag`: a partition, its latest sample and its status."""

    topic: str
    partition: int
    sample: Sample
    status: Status


@dataclass(frozen=True, slots=True)
class Report:
    """The group's lag at one moment, as `segstream lag` prints it."""

    group: str
    at_ms: int
    rows: tuple[Row, ...]

    @classmethod
    def of(cls, group: str, at_ms: int, windows: Windows) -> Report:
        rows = tuple(Row(t, p, s, status) for (t, p), s, status in windows.latest())
        return cls(group, at_ms, rows)

    @property
    def status(self) -> GroupStatus:
        return group_status(row.status for row in self.rows)

    def exit_code(self) -> int:
        """0 OK, 1 WARN, 2 ERR; 4 when no partition has a committed offset."""
        if not any(row.sample.committed is not None for row in self.rows):
            return EXIT_NO_OFFSETS
        return EXIT_CODES[self.status]

    def to_json(self) -> dict[str, Any]:
        """The report as `--json` prints it (shared/spec/operations.md)."""
        return {
            "group": self.group,
            "status": self.status,
            "partitions": [
                {
                    "topic": row.topic,
                    "partition": row.partition,
                    "committed": row.sample.committed,
                    "end": row.sample.end,
                    "lag": row.sample.lag,
                    "lag_seconds": _seconds(row.sample.lag_seconds),
                    "status": row.status,
                }
                for row in self.rows
            ],
            "at": format_ts(self.at_ms * 1000),
        }

    def lines(self) -> list[str]:
        """The report as a table, then the group's status."""
        table = [("TOPIC", "PARTITION", "COMMITTED", "END", "LAG", "LAG_SECONDS", "STATUS")]
        for row in self.rows:
            s = row.sample
            seconds = "-" if s.lag_seconds is None else f"{s.lag_seconds:.3f}"
            committed = "-" if s.committed is None else str(s.committed)
            table.append(
                (row.topic, str(row.partition), committed, str(s.end), str(s.lag), seconds,
                 row.status)
            )  # fmt: skip
        widths = [max(len(cells[i]) for cells in table) for i in range(len(table[0]))]
        out = ["  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
               for cells in table]  # fmt: skip
        out.append(f"group {self.group}: {self.status}")
        return out


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
