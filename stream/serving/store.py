"""The served memberships in Redis: the materialiser's atomic step and the API's reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import NoScriptError

from stream.core.health.figures import PartitionFigures
from stream.core.health.history import PartitionHistory
from stream.serving import keys
from stream.serving.connection import RedisClient, load_script

Offsets = dict[int, int]  # partition -> offset of the last change applied


@dataclass(frozen=True, slots=True)
class Applied:
    """What one atomic step did: changes applied, redeliveries skipped, gaps found."""

    applied: int
    redelivered: int
    gaps: tuple[tuple[str, int, int], ...]  # (contact, seq received, seq stored before)


@dataclass(frozen=True, slots=True)
class PartitionStats:
    """One partition's offset, segment sizes (members, held out), counters and open gaps."""

    offset: int | None
    sizes: dict[str, int] = field(default_factory=dict)
    held_out: dict[str, int] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    open_gaps: int = 0


class Store:
    """One namespace of served memberships in one Redis or Redis Cluster."""

    def __init__(self, client: RedisClient, namespace: str) -> None:
        self.client = client
        self.namespace = namespace
        self._apply = load_script(client, "apply")
        self._contact = load_script(client, "contact")
        self._members = load_script(client, "members")
        self._partition = load_script(client, "partition")
        self._gaps = load_script(client, "gaps")
        self._overlap = load_script(client, "overlap")
        self._history = load_script(client, "history")
        self._scripts = (
            self._apply, self._contact, self._members, self._partition, self._gaps,
            self._overlap, self._history,
        )  # fmt: skip

    async def aclose(self) -> None:
        await self.client.aclose()

    # --- the materialiser's side ---

    async def apply(
        self,
        partition: int,
        last_offset: int,
        invalid: int,
        expected: int,
        args: Sequence[str],
        goals: str = "",
    ) -> Applied | None:
        """Apply a batch of one partition (flat change arguments) and its offset atomically.

        `expected` is the offset the caller believes is stored (-1 for none). None means Redis
        has less than that (it lost writes): nothing was applied, resume from what is stored.
        A batch that is already in (a step whose answer was lost) applies nothing. `goals`
        (serving.lift.goal_spec) says which segments keep lift records.
        """
        ns = self.namespace
        result = await self._apply(
            keys=[keys.offset_key(ns, partition)],
            args=[keys.prefix(ns, partition), last_offset, invalid, expected, goals, *args],
        )
        if result[0] == -1:
            return None
        if result[0] == -2:
            return Applied(0, 0, ())
        gaps = []
        for item in result[2:]:
            contact, seq, stored = item.decode().rsplit(" ", 2)
            gaps.append((contact, int(seq), int(stored)))
        return Applied(int(result[0]), int(result[1]), tuple(gaps))

    async def write_meta(self, topic: str, partitions: int) -> None:
        """Record which topic this namespace follows and how many partitions it has."""
        await self.client.hset(
            keys.meta_key(self.namespace), mapping={"topic": topic, "partitions": partitions}
        )

    # --- reads, for the API and for resuming ---

    async def partitions(self) -> int | None:
        """The change topic's partition count the materialiser recorded, if it ran."""
        value = await self.client.hget(keys.meta_key(self.namespace), "partitions")
        return None if value is None else int(value)

    async def offsets(self, partitions: int) -> Offsets:
        """The last applied offset of every partition that has one."""
        names = [keys.offset_key(self.namespace, p) for p in range(partitions)]
        values = await self._pipeline([("GET", name) for name in names])
        return {p: int(v) for p, v in enumerate(values) if v is not None}

    async def contact(self, partition: int, contact_id: str) -> tuple[int | None, dict[str, bytes]]:
        """A contact's stored fields (empty if never seen) and its partition's offset."""
        ns = self.namespace
        result = await self._run(
            self._contact.sha,
            keys.offset_key(ns, partition),
            keys.contact_key(ns, partition, contact_id),
        )
        fields = result[1:]
        stored = {fields[i].decode(): fields[i + 1] for i in range(0, len(fields), 2)}
        return _offset(result[0]), stored

    async def members(
        self, partitions: int, segment: str, after: str, limit: int
    ) -> tuple[Offsets, list[str]]:
        """The first `limit` members after `after` over all partitions, in contact-id order.

        Each partition is first asked for a share of the page (twice its even share); only a
        partition whose share ran out before the page's last member is asked again for the
        whole page, so a page reads about twice its size instead of `partitions` times.
        """
        share = min(limit, 2 * limit // max(partitions, 1) + 1)
        sha = self._members.sha
        found: dict[int, list[bytes]] = {}
        offsets: Offsets = {}
        asked = {p: share for p in range(partitions)}
        while asked:
            wanted = list(asked)
            results = await self._per_partition(sha, wanted, segment, after, share)
            for p, result in zip(wanted, results, strict=True):
                if (offset := _offset(result[0])) is not None:
                    offsets[p] = offset
                found[p] = result[1:]
            # Redis orders members by their bytes; so do bytes in Python.
            page = sorted(m for members in found.values() for m in members)[:limit]
            edge = page[-1] if len(page) == limit else None
            asked = {
                p: limit
                for p, members in found.items()
                if asked.get(p) == share < limit
                and len(members) == share
                and (edge is None or members[-1] < edge)
            }
            share = limit
        return offsets, [m.decode() for m in page]

    async def gaps(
        self, partitions: int, after: str, limit: int
    ) -> tuple[Offsets, list[tuple[str, int, str]]]:
        """Contacts with open gaps after `after`: (contact, seq, missing ranges "a-b,c-d")."""
        results = await self._per_partition(self._gaps.sha, partitions, after, limit)
        offsets: Offsets = {}
        merged: list[tuple[str, int, str]] = []
        for p, result in enumerate(results):
            if (offset := _offset(result[0])) is not None:
                offsets[p] = offset
            rest = result[1:]
            for i in range(0, len(rest), 3):
                merged.append((rest[i].decode(), int(rest[i + 1]), rest[i + 2].decode()))
        merged.sort()
        return offsets, merged[:limit]

    async def stats(self, partitions: int) -> list[PartitionStats]:
        """Every partition's offset, sizes, counters and open gaps."""
        results = await self._per_partition(self._partition.sha, partitions)
        return [_partition_stats(result) for result in results]

    async def overlap(
        self, partitions: int, most: int
    ) -> list[tuple[int | None, PartitionFigures]]:
        """Every partition's offset and overlap figures, read in one step per partition.

        Each step walks the partition's members (see lua/overlap.lua); `most` is the lint's N:
        a few contacts in more than N segments are named.
        """
        results = await self._per_partition(self._overlap.sha, partitions, most)
        return [(_offset(result[0]), _overlap_of(result)) for result in results]

    async def history(
        self, partitions: int, resolution: str, count: int
    ) -> list[tuple[int | None, PartitionHistory]]:
        """Every partition's offset and its newest `count` buckets of `resolution` (hm, hh)."""
        results = await self._per_partition(self._history.sha, partitions, resolution, count)
        return [(_offset(result[0]), _history_of(result)) for result in results]

    async def lift(self, partitions: int) -> list[dict[str, int]]:
        """Every partition's lift counters: `SEGMENT:n0`/`:n1` entered (not held out / held
        out), `:c0`/`:c1` of them converted, `:a` at the goal already when entering."""
        names = [keys.prefix(self.namespace, p) + "lc" for p in range(partitions)]
        read = await self._pipeline([("HGETALL", name) for name in names])
        return [{k.decode(): int(v) for k, v in fields.items()} for fields in read]

    async def _per_partition(self, sha: str, partitions: int | list[int], *args: Any) -> list[Any]:
        """One read script per partition (its offset key, its prefix, `args`), in one trip."""
        ns = self.namespace
        wanted = range(partitions) if isinstance(partitions, int) else partitions
        return await self._pipeline(
            [("EVALSHA", sha, 1, keys.offset_key(ns, p), keys.prefix(ns, p), *args) for p in wanted]
        )

    async def _run(self, sha: str, *keys_: str) -> Any:
        """One read script with its keys, loading the scripts if Redis has forgotten them."""
        try:
            return await self.client.evalsha(sha, len(keys_), *keys_)
        except NoScriptError:
            await self._load_scripts()
            return await self.client.evalsha(sha, len(keys_), *keys_)

    async def _load_scripts(self) -> None:
        for script in self._scripts:
            await self.client.script_load(script.script)

    async def _pipeline(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Run `commands` in one round trip (per node, on a cluster), loading scripts if needed.

        A Redis that restarted has forgotten the scripts: load them and try once more.
        """
        if not commands:
            return []
        for attempt in (1, 2):
            pipe = self.client.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command(*command)
            try:
                return list(await pipe.execute())
            except NoScriptError:
                if attempt == 2:
                    raise
                await self._load_scripts()
        raise AssertionError("unreachable")


def _offset(value: Any) -> int | None:
    return None if value is None else int(value)


def _pairs(flat: list[bytes]) -> dict[str, int]:
    return {flat[i].decode(): int(flat[i + 1]) for i in range(0, len(flat), 2)}


def _overlap_of(result: list[Any]) -> PartitionFigures:
    ids = [name.decode() for name in result[1]]
    flat, hist = result[2], result[3]
    both: dict[tuple[str, str], int] = {}
    for i in range(0, len(flat), 3):
        a, b = ids[int(flat[i]) - 1], ids[int(flat[i + 1]) - 1]
        both[(a, b) if a < b else (b, a)] = int(flat[i + 2])
    per_contact = {int(hist[i]): int(hist[i + 1]) for i in range(0, len(hist), 2)}
    counts = _pairs(result[5])
    sizes = {k: v for k, v in counts.items() if not k.endswith(":h")}
    held = {k[:-2]: v for k, v in counts.items() if k.endswith(":h")}
    crowded = tuple(c.decode() for c in result[4])
    return PartitionFigures(sizes, held, both, per_contact, crowded)


def _history_of(result: list[Any]) -> PartitionHistory:
    sizes = {k: v for k, v in _pairs(result[1]).items() if not k.endswith(":h")}
    moves: dict[tuple[str, str], int] = {}
    for name, count in _pairs(result[4]).items():
        was, _, now = name.partition(">")
        moves[(was, now)] = count
    flat = result[5]
    buckets = {int(flat[i]): _pairs(flat[i + 1]) for i in range(0, len(flat), 2)}
    return PartitionHistory(sizes, _pairs(result[2]), _pairs(result[3]), moves, buckets)


def _partition_stats(result: list[Any]) -> PartitionStats:
    counts = _pairs(result[1])
    sizes = {k: v for k, v in counts.items() if not k.endswith(":h")}
    held = {k[:-2]: v for k, v in counts.items() if k.endswith(":h")}
    return PartitionStats(_offset(result[0]), sizes, held, _pairs(result[2]), int(result[3]))
