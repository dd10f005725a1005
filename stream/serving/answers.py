"""Shaping stored fields into the API's answers: segments, contacts, cursors, gaps."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from stream.core.language.ast import RuleSet, Segment
from stream.serving.api_errors import ApiError
from stream.serving.backend import Backend
from stream.serving.keys import decode_since, partition_of
from stream.serving.store import Offsets, PartitionStats
from stream.serving.tokens import decode_cursor

_META = frozenset({"SEQ", "STAGE", "GAPS"})  # contact fields that are not segments


@dataclass(frozen=True, slots=True)
class Reading:
    """A request allowed to read: min_position (if any) is reached; the partition count."""

    partitions: int


def catalogue_of(rules: RuleSet | None) -> dict[str, Segment] | None:
    """The rules' segments by id, in file order; None without rules."""
    return None if rules is None else {s.id: s for s in rules.segments}


def all_segments(stats: Iterable[PartitionStats]) -> set[str]:
    """Every segment Redis has a size for (the catalogue when the API has no rules)."""
    return {segment for s in stats for segment in s.sizes}


def describe(
    catalogue: dict[str, Segment] | None, segment: str, stats: list[PartitionStats]
) -> dict[str, Any]:
    """A segment's description from the rules, with its size summed over partitions."""
    definition = None if catalogue is None else catalogue.get(segment)
    return {
        "id": segment,
        "name": definition.name if definition else None,
        "description": definition.description if definition else None,
        "persona": definition.persona if definition else None,
        "owner": definition.owner if definition else None,
        "tags": list(definition.tags) if definition else [],
        "holdout": definition.holdout if definition else None,
        "size": sum(s.sizes.get(segment, 0) for s in stats),
        "held_out": sum(s.held_out.get(segment, 0) for s in stats),
    }


def segments_of(fields: dict[str, bytes]) -> dict[str, tuple[int, bool]]:
    """A contact's segments: id -> (since in microseconds, holdout)."""
    return {k: decode_since(v) for k, v in fields.items() if k not in _META}


async def find_contact(
    backend: Backend, read: Reading, contact_id: str
) -> tuple[Offsets, dict[str, bytes]]:
    """The position of the answer and the contact's fields; 404 if it was never seen.

    The contact's partition's offset is read with its fields; the others come from a read at
    most 0.1 s old (still lower bounds: offsets only grow), which saves a round trip.
    The contact is looked for in the partition Kafka's default partitioner gives its id, then,
    for a topic produced with another partitioner, in every other partition.
    """
    if read.partitions:
        store = await backend.store()
        home = partition_of(contact_id, read.partitions)
        for partition in [home, *(p for p in range(read.partitions) if p != home)]:
            offset, fields = await store.contact(partition, contact_id)
            if fields:
                offsets = dict(await backend.recent_offsets(read.partitions))
                if offset is not None:
                    offsets[partition] = max(offset, offsets.get(partition, offset))
                return offsets, fields
    raise ApiError(404, "not_found", f"no contact {contact_id!r}: no change message names it")


def offsets_of(stats: Iterable[PartitionStats]) -> Offsets:
    """The offsets the per-partition stats were read with."""
    return {p: s.offset for p, s in enumerate(stats) if s.offset is not None}


def after_cursor(cursor: str | None) -> str:
    """The contact id to page after ("" for the first page); 400 for a bad cursor."""
    if cursor is None:
        return ""
    try:
        return decode_cursor(cursor)
    except ValueError as error:
        raise ApiError(400, "bad_parameter", f"cursor: {error}") from None


def gap_ranges(missing: str) -> list[list[int]]:
    """Stored gap ranges ``a-b,c-d`` as [[a, b], [c, d]]."""
    out = []
    for part in filter(None, missing.split(",")):
        first, _, last = part.partition("-")
        out.append([int(first), int(last)])
    return out
