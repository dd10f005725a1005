"""A partition's rebuild run in a child process, so that it takes a core of its own and the
live path keeps the worker's event loop.

The parent reads the retained input (`rebuild_input`) and sends it in chunks over the
child's stdin; the child applies them to a `Rebuild`. Before the switch's lock the parent
takes over every contact's state as rebuilt so far (`prepare`): the child sends its stored
bytes (`Engine.snapshot`, the table's own format) and the parent restores them under its own
engine, a chunk at a time between live batches. Asked under the lock for the states at the
switch instant (`finish`), the child sends only the states whose bytes changed since (the
contacts of the last records, and those whose deadlines fired), and the history it read.
Each message on either pipe is a 4-byte big-endian length, then a pickle (parent and child
are the same program). The child writes nothing to disk; until the switch it holds a
16-byte digest (BLAKE2b) of each state it sent in `prepare`, not the state's bytes, and
exits when its stdin closes, the parent's death included; a rebuild that fails or is
abandoned is thrown away whole.

    python -m stream.app.rebuild_process   (started by `RebuildProcess`, never by hand)
"""

from __future__ import annotations

import asyncio
import hashlib
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
FEED, PREPARE, STATES = "feed", "prepare", "states"
RESTORE_CHUNK = 1_000  # states restored between two turns of the live path


class RebuildFailed(RuntimeError):
    """The rebuild's process ended before it answered."""


class RebuildProcess:
    """Partition `partition`'s states rebuilt under `engine` in a child process.

    The same steps as `Rebuild`, awaited: `start`, `feed` each chunk in order, then
    `finish` for the states at the switch instant (`prepare` before it, off the lock, takes
    most of them over early); `stop` in every case.
    """

    def __init__(self, partition: int, engine: Engine, policy: Policy) -> None:
        self.partition = partition
        self.engine = engine
        self.policy = policy
        self.records = 0  # input records sent so far
        self.restored_late = 0  # states `finish` restored (changed since `prepare`)
        self._child: asyncio.subprocess.Process | None = None
        self._prepared: dict[str, ContactState] | None = {}  # None: a `prepare` unfinished

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

    async def prepare(self) -> None:
        """Restore every contact's state as rebuilt so far, yielding to the live path every
        `RESTORE_CHUNK`, so that `finish` has only the changed ones left to restore."""
        # The child counts what it sends as taken over: until every state of it is restored
        # here, `finish` would leave some out, so it refuses (`_prepared` None). Cut short,
        # a rebuild is abandoned whole anyway (and its pipe may be mid-answer).
        self._prepared = None
        await self._send((PREPARE, None))
        stored: dict[str, bytes] = await self._receive()
        restore, prepared = self.engine.restore, {}
        for count, (contact, body) in enumerate(stored.items(), start=1):
            prepared[contact] = restore(body, contact)
            if count % RESTORE_CHUNK == 0:
                await asyncio.sleep(0)
        self._prepared = prepared

    async def finish(self, now: int, truncated: bool) -> tuple[dict[str, ContactState], History]:
        """Every contact's rebuilt state with its deadlines up to `now` fired, and the event
        times the records span (`truncated` when retention cut them)."""
        states = self._prepared
        if states is None:
            raise RebuildFailed(f"partition {self.partition}: the states were not all taken over")
        self._prepared = None  # once: the child still counts the taken-over states as sent
        await self._send((STATES, now))
        changed, gone, history = await self._receive()
        for contact in gone:
            del states[contact]
        restore = self.engine.restore
        for contact, body in changed.items():
            states[contact] = restore(body, contact)
        self.restored_late = len(changed)
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
    snapshot = engine.snapshot
    sent: dict[str, bytes] = {}  # the digest of each state as the parent holds it (`prepare`)
    while (message := _read(source)) is not None:
        kind, body = message
        if kind == FEED:
            rebuild.feed([Record(*fields) for fields in body])
        elif kind == PREPARE:
            taken = {contact: snapshot(state) for contact, state in rebuild.current().items()}
            _write(sink, taken)
            sent = {contact: _digest(stored) for contact, stored in taken.items()}
            del taken  # the bytes themselves are the parent's now
        else:
            states = rebuild.states(body)
            changed = {}
            for contact, state in states.items():
                stored = snapshot(state)
                if sent.get(contact) != _digest(stored):
                    changed[contact] = stored
            gone = [contact for contact in sent if contact not in states]
            _write(sink, (changed, gone, rebuild.history(False)))


def _digest(stored: bytes) -> bytes:
    """What the child keeps of a state it sent: a different state has a different digest
    but for odds of 2**-128, far below anything else that could go wrong."""
    return hashlib.blake2b(stored, digest_size=16).digest()


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
