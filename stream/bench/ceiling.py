"""A bare Faust agent that only decodes events: the ceiling Faust itself allows, for benches.

Run as `python -m stream.bench.ceiling BROKER TOPIC GROUP STATUS_FILE [patched]`; it writes how
many events it decoded to STATUS_FILE twice a second. With `patched` the agent runs on the
worker's own Faust app class (`stream.app.faust_private.App`, with its direct hand-off of fetched
records), stream buffer and garbage-collector setting: what is left of the worker's cost is
then its own.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import faust
import orjson

from stream.app import faust_private
from stream.app.factory import STREAM_BUFFER
from stream.app.run import faust_worker, tune_gc


def main(broker: str, topic: str, group: str, status_file: str, variant: str = "stock") -> None:
    """Consume `topic` from the start as group `group`, decoding every value, until stopped."""
    patched = variant == "patched"
    tuned: dict[str, Any] = {}
    if patched:
        tune_gc()
        tuned["stream_buffer_maxsize"] = STREAM_BUFFER
    app = (faust_private.App if patched else faust.App)(
        group,
        broker=broker,
        store="memory://",
        datadir=tempfile.mkdtemp(prefix="segstream-ceiling-"),
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=6.0,
        broker_heartbeat_interval=1.0,
        worker_redirect_stdouts=False,
        **tuned,
    )
    source = app.topic(topic, key_type=bytes, value_type=bytes, value_serializer="raw")
    seen = [0]
    status = Path(status_file)

    async def decode(stream: Any) -> None:
        async for event in stream.events():
            orjson.loads(event.message.value)
            seen[0] += 1

    app.agent(source, name="decode")(decode)

    async def report() -> None:
        status.write_bytes(orjson.dumps({"decoded": seen[0]}))

    app.timer(0.5, name="report")(report)
    faust_worker(app, "warning").execute_from_commandline()


if __name__ == "__main__":
    main(*sys.argv[1:6])
