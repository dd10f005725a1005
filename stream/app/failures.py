"""Unexpected errors applying one event: what their dead letter says, logged once per kind."""

from __future__ import annotations

import logging

log = logging.getLogger("stream.app.processor")

PROCESSING_ERROR = "processing_error"  # the reason of an event whose handling raised
DETAIL_CHARS = 500  # of the error's own message, which may quote any value
# The kinds already logged with a traceback: (type, file, line where it was raised).
_reported: set[tuple[str, str, int]] = set()


def report(topic: str, partition: int, offset: int, error: Exception) -> str:
    """Log `error` with its traceback unless its kind was logged before; its detail."""
    name = type(error).__name__
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    where = ("", 0) if frame is None else (frame.tb_frame.f_code.co_filename, frame.tb_lineno)
    kind = (name, *where)
    if kind not in _reported:
        _reported.add(kind)
        log.error(
            "%s[%d] offset %d: %s while applying it; dead-lettered as %s (this kind of error "
            "is logged once)",
            topic, partition, offset, name, PROCESSING_ERROR,
            exc_info=error,
        )  # fmt: skip
    return f"{f'{name}: {error}'[:DETAIL_CHARS]}; a bug in segstream: please report it"
