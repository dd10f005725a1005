"""The served history: sizes, entries, exits and flaps per bucket, and the lifecycle funnel."""

from __future__ import annotations

from typing import Any

from stream.core.health.history import RESOLUTIONS, History, combine_history
from stream.core.language.ast import RuleSet
from stream.core.timefmt import format_ts
from stream.serving.store import Offsets, Store


async def read_history(
    store: Store, partitions: int, rules: RuleSet | None, resolution: str, count: int
) -> tuple[Offsets, History]:
    """The position read and the newest `count` buckets of `resolution` (minute or hour)."""
    name, width, _ = RESOLUTIONS[resolution]
    read = await store.history(partitions, name, count)
    offsets = {p: offset for p, (offset, _) in enumerate(read) if offset is not None}
    parts = [part for _, part in read]
    if rules is not None:
        ids = [s.id for s in rules.segments]
    else:
        ids = sorted({s for part in parts for s in part.sizes})
    return offsets, combine_history(ids, parts, width, count)


def history_answer(history: History, resolution: str, stages: list[str] | None) -> dict[str, Any]:
    """The JSON answer of `GET /v1/history`; `stages` orders the funnel (the rules' stages)."""
    order = stages if stages is not None else sorted(history.stages)
    return {
        "resolution": resolution,
        "starts": [format_ts(t) for t in history.starts],
        "segments": {
            segment: {
                "size": list(s.size),
                "entered": list(s.entered),
                "exited": list(s.exited),
                "flapped": list(s.flapped),
                "entered_ever": history.entered_ever[segment],
            }
            for segment, s in history.series.items()
        },
        "stages": [{"stage": stage, "contacts": history.stages.get(stage, 0)} for stage in order],
        "moves": [
            {"from": was or None, "to": now or None, "contacts": n}
            for (was, now), n in history.moves.items()
        ],
    }


def churn(history: History) -> dict[str, dict[str, int]]:
    """Per segment, entries, exits and flaps over the whole of `history`'s buckets."""
    return {
        segment: {
            "entered": sum(s.entered),
            "exited": sum(s.exited),
            "flapped": sum(s.flapped),
        }
        for segment, s in history.series.items()
    }
