"""What the API reads through: a lazily connected store, the partition count, positions."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from stream.serving.api_errors import ApiError
from stream.serving.connection import UNAVAILABLE, RedisState, connect
from stream.serving.store import Offsets, Store
from stream.serving.tokens import format_position, parse_position, reached

PARTITIONS_TTL_S = 5.0  # how long the API trusts the recorded partition count
OFFSETS_TTL_S = 0.1  # how old the other partitions' offsets in a contact's position may be
POLL_S = 0.01  # how often a request waiting for min_position looks again
MAX_WAIT_MS = 5000


class Backend:
    """Redis as the API sees it: connects on first use and again after Redis comes back."""

    def __init__(self, redis_url: str, namespace: str, ca_file: Path | None = None) -> None:
        self.redis_url = redis_url
        self.ca_file = ca_file
        self.namespace = namespace
        self.state = RedisState(redis_url)
        self._store: Store | None = None
        self._connecting = asyncio.Lock()
        self._partitions: tuple[float, int] | None = None
        self._offsets: tuple[float, Offsets] = (0.0, {})

    async def store(self) -> Store:
        """The store; raises one of UNAVAILABLE while Redis does not answer."""
        if self._store is None:
            async with self._connecting:
                if self._store is None:
                    try:
                        self._store = Store(
                            await connect(self.redis_url, self.ca_file), self.namespace
                        )
                    except UNAVAILABLE as error:
                        self.state.down(error)
                        raise
        return self._store

    async def ping(self) -> None:
        """Raise one of UNAVAILABLE unless Redis answers now."""
        store = await self.store()
        try:
            await store.client.ping()
        except UNAVAILABLE as error:
            self.state.down(error)
            raise
        self.state.up()

    async def partitions(self) -> int:
        """The change topic's partition count (0 before the materialiser first ran)."""
        now = time.monotonic()
        if self._partitions is not None and now - self._partitions[0] < PARTITIONS_TTL_S:
            return self._partitions[1]
        store = await self.store()
        try:
            count = await store.partitions() or 0
        except UNAVAILABLE as error:
            self.state.down(error)
            raise
        self.state.up()
        if count:
            self._partitions = (now, count)
        return count

    async def recent_offsets(self, partitions: int) -> Offsets:
        """Offsets read at most OFFSETS_TTL_S ago: a lower bound of what Redis has applied."""
        now = time.monotonic()
        if now - self._offsets[0] >= OFFSETS_TTL_S:
            store = await self.store()
            self._offsets = (now, await store.offsets(partitions))
        return self._offsets[1]

    async def wait_for(self, min_position: str | None, wait_ms: int) -> None:
        """Return once Redis has applied `min_position` (409 if `wait_ms` runs out first)."""
        try:
            wanted = parse_position(min_position or "")
        except ValueError as error:
            raise ApiError(400, "bad_parameter", f"min_position: {error}") from None
        if not wanted:
            return
        store = await self.store()
        deadline = time.monotonic() + wait_ms / 1000
        while True:
            offsets = await store.offsets(await self.partitions())
            self._offsets = (time.monotonic(), offsets)  # answers then show at least these
            if reached(offsets, wanted):
                return
            if time.monotonic() >= deadline:
                raise ApiError(
                    409,
                    "position_not_reached",
                    f"Redis has {format_position(offsets) or 'nothing'}, not yet "
                    f"{min_position}; retry, or pass a larger wait_ms (at most {MAX_WAIT_MS})",
                )
            await asyncio.sleep(POLL_S)

    async def aclose(self) -> None:
        if self._store is not None:
            await self._store.aclose()
