"""`GET /v1/health` and `GET /v1/history`: segment health and its history, from Redis."""

# No `from __future__ import annotations`: FastAPI reads the endpoint's annotations at runtime.

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from starlette.responses import Response

from stream.core.health.lint import Thresholds
from stream.core.language.ast import RuleSet
from stream.serving.api_errors import JSONBody
from stream.serving.backend import MAX_WAIT_MS, Backend
from stream.serving.health import read_health
from stream.serving.history import history_answer, read_history
from stream.serving.tokens import format_position

MinPosition = Annotated[str | None, Query(max_length=20_000, description="As on every /v1/ path.")]
Resolution = Annotated[Literal["minute", "hour"], Query(description="Bucket width.")]
Buckets = Annotated[int, Query(ge=1, le=840, description="How many of the newest buckets.")]
WaitMs = Annotated[int, Query(ge=0, le=MAX_WAIT_MS, description="How long to wait for it.")]


def health_router(
    backend: Backend,
    rules: RuleSet | None,
    thresholds: Thresholds,
    errors: dict[int | str, dict[str, Any]],
) -> APIRouter:
    """The router of `/v1/health`; every partition's members are walked per request."""
    router = APIRouter(prefix="/v1", responses=errors)

    @router.get("/health")
    async def health(min_position: MinPosition = None, wait_ms: WaitMs = 0) -> Response:
        """Overlap (members in both, Jaccard) of every pair of segments, and lint findings."""
        await backend.wait_for(min_position, wait_ms)
        partitions = await backend.partitions()
        return JSONBody(await read_health(await backend.store(), partitions, rules, thresholds))

    @router.get("/history")
    async def history(
        resolution: Resolution = "hour",
        buckets: Buckets = 48,
        min_position: MinPosition = None,
        wait_ms: WaitMs = 0,
    ) -> Response:
        """Per segment size, entries, exits and flaps per bucket; contacts per stage, moves."""
        await backend.wait_for(min_position, wait_ms)
        partitions = await backend.partitions()
        store = await backend.store()
        offsets, read = await read_history(store, partitions, rules, resolution, buckets)
        stages = list(rules.lifecycle.stages) if rules and rules.lifecycle else None
        answer = history_answer(read, resolution, stages)
        return JSONBody({**answer, "position": format_position(offsets)})

    return router
