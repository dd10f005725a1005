"""What a consumer of change messages keeps: grouped by contact, redeliveries dropped."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any


def by_contact(changes: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for change in changes:
        out[change["contact_id"]].append(change)
    return dict(out)


def drop_repeats(changes: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per contact, what a consumer keeps when it drops every `seq` it has already seen."""
    kept: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for change in changes:
        mine = kept[change["contact_id"]]
        if not mine or change["seq"] > mine[-1]["seq"]:
            mine.append(change)
    return dict(kept)
