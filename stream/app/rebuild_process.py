"""A partition's rebuild run in a child process, so that it takes a core of its own and the
live path keeps the worker's event loop.

The parent reads the retained input (`rebuild_input`) and sends it in chunks over the
child's stdin; the child applies them to a `Rebuild`. Asked for the states at an instant,
it sends back every contact's stored bytes (`Engine.snapshot`, the table's own format) and
the history it read, and the parent restores them under its own engine. Each message on
either pipe is a 4-byte big-endian length, then a pickle (parent and child are the same
program). The child keeps nothing: it exits when its stdin closes, the parent's death
included; a rebuild that fails or is abandoned is thrown away whole.

    python -m stream.app.rebuild_process   (started by `RebuildProcess`, never by hand)
"""

from __future__ import annotations

import asyncio
import pickle
import struct
import sys
from collections.abc import Sequence
from typing import Any, BinaryIO

from stream.app.records import Policy, Record
from stream.core.evaluation.engine import Engine
from stream.core.evaluation.state import ContactState
from stream.core.undercount import History

_LENGTH = struct.Struct(">I")
FEED, STATES = "feed", "states"


class RebuildFailed(RuntimeError):
    """The rebuild's process ended before it answered."""


class RebuildProcess:
    """Partition `partition`'s states rebuilt under `engine` in a child process.

    The same steps as `Rebuild`, awaited: `start`, `feed` each chunk in order, then
    `finish` for the states at the switch instant; `stop` in every case.
    """

    def __init__(self, partition: int, engine: Engine, policy: Policy) -> None:
        self.partition = partition
        self.engine = engine
        self.policy = policy
        self.records = 0  # input records sent so far
        self._child: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self._child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "stream.app.rebuild_process",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        engine = self.engine
        await self._send(
            (self.partition, engine.rules, engine.horizon_us, engine.limits, self.policy)
        )

    async def feed(self, records: Sequence[Record]) -> None:
        """Send one chunk (in offset order per topic); applied in the child, in order."""
        body = [(r.topic, r.partition, r.offset, r.key, r.value, r.timestamp) for r in records]
        await self._send((FEED, body))
        self.records += len(records)

    async def finish(self, now: int, truncated: bool) -> tuple[dict[str, ContactState], History]:
        """Every contact's rebuilt state with its deadlines up to `now` fired, and the event
        times the records span (`truncated` when retention cut them)."""
        await self._send((STATES, now))
        stored, history = await self._receive()
        restore = self.engine.restore
        states = {contact: restore(body, contact) for contact, body in stored.items()}
        return states, history._replace(truncated=truncated)

    async def stop(self) -> None:
        """End the child, whatever it is doing: it holds nothing that must be kept."""
        child, self._child = self._child, None
        if child is None:
            return
        if child.returncode is None:
            child.kill()
        await child.wait()

    async def _send(self, message: object) -> None:
        child = self._running()
        assert child.stdin is not None
        payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            child.stdin.write(_LENGTH.pack(len(payload)) + payload)
            await child.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            raise await self._ended() from None

    async def _receive(self) -> Any:
        child = self._running()
        assert child.stdout is not None
        try:
            (length,) = _LENGTH.unpack(await child.stdout.readexactly(_LENGTH.size))
            return pickle.loads(await child.stdout.readexactly(length))
        except asyncio.IncompleteReadError:
            raise await self._ended() from None

    def _running(self) -> asyncio.subprocess.Process:
        if self._child is None:
            raise RebuildFailed(f"the rebuild process of partition {self.partition} is not running")
        return self._child

    async def _ended(self) -> RebuildFailed:
        status = await self._running().wait()
        return RebuildFailed(
            f"the rebuild process of partition {self.partition} ended with exit status "
            f"{status}; the worker's log has its error"
        )


def serve(source: BinaryIO, sink: BinaryIO) -> None:
    """The child's side: build, feed, answer, until `source` ends."""
    from stream.app.clock import wall_us
    from stream.app.rebuild import Rebuild

    partition, rules, horizon_us, limits, policy = _read(source)
    engine = Engine(rules, horizon_us=horizon_us, limits=limits)
    rebuild = Rebuild(partition, engine, policy, wall_us)
    while (message := _read(source)) is not None:
        kind, body = message
        if kind == FEED:
            rebuild.feed([Record(*fields) for fields in body])
        else:
            states = rebuild.states(body)
            stored = {contact: engine.snapshot(state) for contact, state in states.items()}
            _write(sink, (stored, rebuild.history(False)))


def _read(source: BinaryIO) -> Any:
    head = source.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None  # the parent closed the pipe, or died
    (length,) = _LENGTH.unpack(head)
    return pickle.loads(source.read(length))


def _write(sink: BinaryIO, message: object) -> None:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    sink.write(_LENGTH.pack(len(payload)) + payload)
    sink.flush()


def main() -> int:
    try:
        serve(sys.stdin.buffer, sys.stdout.buffer)
    except BrokenPipeError:
        return 1  # the parent is gone: nobody waits for the answer
    except Exception as error:  # reported in one line; the parent says the rebuild failed
        print(
            f"segstream: rebuild process failed: {type(error).__name__}: {error}", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
