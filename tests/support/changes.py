"""What a consumer of change messages keeps: grouped by contact, redeliveries dropped."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from stream.core.changes import Change


def by_contact(found: Iterable[Change]) -> dict[str, list[Change]]:
    out: dict[str, list[Change]] = defaultdict(list)
    for change in found:
        out[change.contact_id].append(change)
    return dict(out)


def drop_repeats(found: Iterable[Change]) -> dict[str, list[Change]]:
    """Per contact, what a consumer keeps when it drops every `seq` it has already seen."""
    kept: dict[str, list[Change]] = defaultdict(list)
    for change in found:
        mine = kept[change.contact_id]
        if not mine or change.seq > mine[-1].seq:
            mine.append(change)
    return dict(kept)
