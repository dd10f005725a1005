"""Where segstream's log lines go and how they read: ISO timestamps, libraries kept quiet."""

from __future__ import annotations

import logging
import os
import time

from stream.settings_declared import declared_setting

# The level in brackets is what the tests' health check looks for ("[ERROR]").
FORMAT = "%(asctime)s [%(levelname)s] %(message)s"

# mode names a service's logger after the module of its class, so Faust's own start-up and
# shutdown chatter comes from the Faust classes subclassed in these modules under `stream` names.
FAUST_SUBCLASSES = ("stream.app.faust_private", "stream.app.recovery")

_configured: str | None = None

# aiokafka's logger for the group's joins, heartbeats and offset commits.
GROUP_COORDINATOR = "aiokafka.consumer.group_coordinator"


class RebalanceCommit(logging.Filter):
    """aiokafka's ERROR for an offset commit that raced a rebalance, as the WARNING it is.

    When a worker joins or leaves, a commit sent under the group's old generation fails and
    the consumer rejoins; nothing is lost (the offsets stay at the last commit that held, and
    the partitions' new owners read on from there). Every other line passes as it is.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if (
            record.levelno == logging.ERROR
            and isinstance(record.msg, str)
            and record.msg.startswith("OffsetCommit failed for group")
            and record.msg.endswith("will rejoin")
        ):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg += (
                " (a rebalance began, as when a worker joins or leaves: the partitions' new"
                " owners read on from the last commit that held)"
            )
        return True


_REBALANCE_COMMIT = RebalanceCommit()


class IsoFormatter(logging.Formatter):
    """Timestamps as ISO 8601 in UTC with milliseconds: ``2026-11-01T09:30:00.125Z``."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        del datefmt
        seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{seconds}.{int(record.msecs):03d}Z"


def configure(level: str) -> None:
    """Log to standard error: segstream's own lines from `level` up, Faust's, mode's and
    aiokafka's only from warning up (their start-up and rebalance chatter is at info),
    unless `level` is debug, which shows everything; a commit that raced a rebalance is a
    warning (`RebalanceCommit`)."""
    global _configured
    _configured = level
    number = logging.getLevelNamesMapping()[level.upper()]
    handler = logging.StreamHandler()
    handler.setFormatter(IsoFormatter(FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    libraries = number if level == "debug" else max(number, logging.WARNING)
    root.setLevel(libraries)
    logging.getLogger("stream").setLevel(number)
    for name in FAUST_SUBCLASSES:
        logging.getLogger(name).setLevel(libraries)
    logging.getLogger(GROUP_COORDINATOR).addFilter(_REBALANCE_COMMIT)  # once: the same filter


def debugging() -> bool:
    """Whether tracebacks are wanted: `configure`d at debug, else SEGSTREAM_LOGLEVEL=debug."""
    level = _configured or os.environ.get(declared_setting("loglevel").env, "")
    return level.strip().lower() == "debug"
