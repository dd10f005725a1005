"""Kafka clients' retried errors as warnings, and their repeats as one line per change of state.

aiokafka logs every failed attempt of a retry loop at ERROR: a broker outage of 47 s gave
12 MB of them (about 1,250 lines a second), and a transient "coordinator not available"
while a fresh broker elects its group coordinator looked like a failure. Errors aiokafka
retries are not failures (the worker stops itself, at CRITICAL, when one is final), so:

- a record of aiokafka, Faust or mode whose error is retriable (a `KafkaError` with
  `retriable`, a connection error, a timeout) is lowered to WARNING;
- the first record of each kind (logger and message, numbers aside) passes; its repeats are
  counted, not shown, with one reminder a minute while they go on, and one line once they
  have stopped for `QUIET_S` (`flush`, called from a timer), with how many there were.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka.errors import KafkaError

SOURCES = ("aiokafka", "faust", "mode")
QUIET_S = 5.0  # a kind unseen this long has stopped: its count is reported
REMIND_S = 60.0  # while a kind repeats, a reminder this often
_NUMBERS = re.compile(r"\d+")
_SUMMARY = "segstream_summary"  # marks the filter's own lines, which always pass
_SHOWN = "segstream_shown"  # the decision on a record, for every handler it reaches
# Retried failures aiokafka logs at ERROR without the exception: its metadata loop's.
_RETRIED = frozenset({"Unable to update metadata from %s"})


@dataclass(slots=True)
class _Run:
    """The repeats of one kind of record since it was last shown."""

    first: logging.LogRecord
    since: float
    shown: float
    last: float
    hidden: int = 0  # since it was last shown
    total: int = 0


def retriable(record: logging.LogRecord) -> bool:
    """Whether the record reports an error that its client retries."""
    if record.msg in _RETRIED:
        return True
    found = list(record.args) if isinstance(record.args, tuple) else []
    if record.exc_info and record.exc_info[1] is not None:
        found.append(record.exc_info[1])
    for value in found:
        if isinstance(value, KafkaError):
            return bool(value.retriable)
        if isinstance(value, OSError | TimeoutError):  # refused, reset, unreachable, timed out
            return True
    return False


class RetryLog(logging.Filter):
    """A handler filter that lowers retried errors and folds their repeats."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.clock = clock
        self._runs: dict[tuple[str, str], _Run] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        decided = record.__dict__.get(_SHOWN)
        if decided is None:
            decided = record.__dict__[_SHOWN] = self._decide(record)
        return bool(decided)

    def _decide(self, record: logging.LogRecord) -> bool:
        if (
            record.levelno < logging.WARNING
            or not record.name.startswith(SOURCES)
            or getattr(record, _SUMMARY, False)
        ):
            return True
        if record.levelno > logging.WARNING and retriable(record):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        now = self.clock()
        key = (record.name, _NUMBERS.sub("#", str(record.msg)))
        run = self._runs.get(key)
        if run is None:
            self._runs[key] = _Run(record, now, now, now)
            return True
        run.last = now
        run.hidden += 1
        run.total += 1
        if now - run.shown >= REMIND_S:
            self._say(run, "still repeating")
            run.shown, run.hidden = now, 0
        return False

    def flush(self) -> None:
        """Report every kind that has stopped repeating, and forget it."""
        now = self.clock()
        for key, run in list(self._runs.items()):
            if now - run.last >= QUIET_S:
                del self._runs[key]
                if run.hidden:
                    self._say(run, "stopped")

    def _say(self, run: _Run, how: str) -> None:
        first = run.first
        logging.getLogger(first.name).log(
            first.levelno,
            "%s, %d more like it in %.0f s: %s",
            how, run.total, run.last - run.since, first.getMessage(),
            extra={_SUMMARY: True},
        )  # fmt: skip


RETRIES = RetryLog()  # the worker's, on every root handler (stream.app.run.faust_worker)
