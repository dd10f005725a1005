"""`GET /v1/health`: overlap of every pair of segments and the lint findings, from Redis."""

# No `from __future__ import annotations`: FastAPI reads the endpoint's annotations at runtime.

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.responses import Response

from stream.core.health.lint import Thresholds
from stream.core.language.ast import RuleSet
from stream.serving.api_errors import JSONBody
from stream.serving.backend import MAX_WAIT_MS, Backend
from stream.serving.health import health_answer, read_figures

MinPosition = Annotated[str | None, Query(max_length=20_000, description="As on every /v1/ path.")]
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
        store = await backend.store()
        offsets, figures = await read_figures(store, partitions, rules, thresholds.max_segments)
        return JSONBody(health_answer(offsets, figures, rules, thresholds))

    return router
