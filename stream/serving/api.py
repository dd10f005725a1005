"""The HTTP API: memberships answered from Redis alone (shared/spec/serving.md)."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at
# runtime, and they name dependencies defined inside create_app.

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path as PathType
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Query
from starlette.responses import Response

from stream.core.health.lint import Thresholds
from stream.core.language.ast import RuleSet
from stream.core.timefmt import format_ts
from stream.serving import api_models as models
from stream.serving.answers import (
    Reading,
    after_cursor,
    all_segments,
    catalogue_of,
    describe,
    find_contact,
    gap_ranges,
    offsets_of,
    segments_of,
)
from stream.serving.api_errors import ApiError, JSONBody, install
from stream.serving.api_health import health_router
from stream.serving.api_page import page_router
from stream.serving.auth import RequireToken, document_bearer
from stream.serving.backend import MAX_WAIT_MS, Backend
from stream.serving.connection import UNAVAILABLE
from stream.serving.metrics import MeasureRequests, ServingMetrics
from stream.serving.store import PartitionStats
from stream.serving.tokens import encode_cursor, format_position

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": models.Error, "description": text}
    for code, text in (
        (400, "A bad parameter."),
        (401, "A missing or wrong bearer token."),
        (404, "An unknown contact or segment."),
        (409, "min_position not reached within wait_ms."),
        (503, "Redis is unreachable."),
    )
}


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """What one API process serves."""

    redis_url: str = field(repr=False)  # may hold the password
    namespace: str
    rules: RuleSet | None = None
    token: str | None = field(default=None, repr=False)
    redis_ca_file: PathType | None = None  # trusted for a rediss:// URL
    lint: Thresholds = field(default_factory=Thresholds)


ContactId = Annotated[str, Path(min_length=1, max_length=256, description="The contact's id.")]
SegmentId = Annotated[str, Path(min_length=1, max_length=64, description="A segment id.")]
Limit = Annotated[int, Query(ge=1, le=1000, description="Page size.")]
Cursor = Annotated[str | None, Query(max_length=1400, description="`next` of the last page.")]
MinPosition = Annotated[str | None, Query(max_length=20_000, description=models.POSITION_DOC)]
WaitMs = Annotated[
    int, Query(ge=0, le=MAX_WAIT_MS, description="How long to wait for min_position.")
]


def unknown_segment(segment_id: str) -> ApiError:
    """The 404 for a segment the rules (or, without rules, Redis) do not know."""
    return ApiError(404, "not_found", f"no segment {segment_id!r} (GET /v1/segments)")


def create_app(config: ApiConfig) -> FastAPI:
    """The ASGI app; run it with uvicorn (`segstream api`)."""
    backend = Backend(config.redis_url, config.namespace, config.redis_ca_file)
    metrics = ServingMetrics()
    catalogue = catalogue_of(config.rules)

    async def reading(min_position: str | None, wait_ms: int) -> Reading:
        await backend.wait_for(min_position, wait_ms)
        return Reading(await backend.partitions())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await backend.aclose()

    app = FastAPI(
        title="segstream serving API",
        version="1",
        description="Segment memberships, materialised in Redis from segment-changes.",
        lifespan=lifespan,
        redirect_slashes=False,  # a stray slash is a 404 JSON error, not a redirect
    )
    app.state.backend = backend  # closed by the lifespan; tests without one close it themselves
    install(app, backend.state)
    app.add_middleware(RequireToken, token=config.token)
    app.add_middleware(MeasureRequests, metrics=metrics)  # outermost: counts the 401s too
    if config.token:
        document_bearer(app)
    v1 = APIRouter(prefix="/v1", responses=ERRORS)

    async def segment_sizes(partitions: int) -> list[PartitionStats]:
        return await (await backend.store()).stats(partitions)

    def known(segment: str, stats: list[PartitionStats]) -> bool:
        if catalogue is not None:
            return segment in catalogue
        return any(segment in s.sizes for s in stats)

    @v1.get("/contacts/{contact_id:path}", response_model=models.Contact)
    async def contact(
        contact_id: ContactId, min_position: MinPosition = None, wait_ms: WaitMs = 0
    ) -> Response:
        """A contact's current segments, lifecycle stage and last applied seq."""
        read = await reading(min_position, wait_ms)
        offsets, fields = await find_contact(backend, read, contact_id)
        segments = [
            {"id": name, "since": format_ts(since), "holdout": held}
            for name, (since, held) in sorted(segments_of(fields).items())
        ]
        stage = fields.get("STAGE")
        return JSONBody(
            {
                "contact_id": contact_id,
                "segments": segments,
                "stage": None if stage is None else stage.decode(),
                "seq": int(fields["SEQ"]),
                "position": format_position(offsets),
            }
        )

    @v1.get("/segments", response_model=models.Segments)
    async def segments(min_position: MinPosition = None, wait_ms: WaitMs = 0) -> Response:
        """Every segment of the rules (size 0 included), with sizes."""
        read = await reading(min_position, wait_ms)
        stats = await segment_sizes(read.partitions)
        ids = list(catalogue) if catalogue is not None else sorted(all_segments(stats))
        answer = [describe(catalogue, segment, stats) for segment in ids]
        return JSONBody({"segments": answer, "position": format_position(offsets_of(stats))})

    @v1.get("/segments/{segment_id}", response_model=models.SegmentWithPosition)
    async def segment(
        segment_id: SegmentId, min_position: MinPosition = None, wait_ms: WaitMs = 0
    ) -> Response:
        """One segment's description and size."""
        read = await reading(min_position, wait_ms)
        stats = await segment_sizes(read.partitions)
        if not known(segment_id, stats):
            raise unknown_segment(segment_id)
        answer = describe(catalogue, segment_id, stats)
        return JSONBody({**answer, "position": format_position(offsets_of(stats))})

    @v1.get("/segments/{segment_id}/members", response_model=models.Members)
    async def members(
        segment_id: SegmentId,
        limit: Limit = 100,
        cursor: Cursor = None,
        min_position: MinPosition = None,
        wait_ms: WaitMs = 0,
    ) -> Response:
        """A page of members in contact-id order; follow `next` to walk them all."""
        after = after_cursor(cursor)
        read = await reading(min_position, wait_ms)
        if catalogue is not None and segment_id not in catalogue:
            raise unknown_segment(segment_id)
        store = await backend.store()
        offsets, page = await store.members(read.partitions, segment_id, after, limit + 1)
        # Without rules a segment is known by its sizes; only an empty page needs to ask.
        if (
            not page
            and catalogue is None
            and not known(segment_id, await store.stats(read.partitions))
        ):
            raise unknown_segment(segment_id)
        more = len(page) > limit
        page = page[:limit]
        return JSONBody(
            {
                "members": page,
                "next": encode_cursor(page[-1]) if more else None,
                "position": format_position(offsets),
            }
        )

    @v1.get("/segments/{segment_id}/members/{contact_id:path}", response_model=models.Membership)
    async def membership(
        segment_id: SegmentId,
        contact_id: ContactId,
        min_position: MinPosition = None,
        wait_ms: WaitMs = 0,
    ) -> Response:
        """Whether a contact is in a segment, since when, and whether it is held out."""
        read = await reading(min_position, wait_ms)
        if catalogue is not None and segment_id not in catalogue:
            raise unknown_segment(segment_id)
        offsets, fields = await find_contact(backend, read, contact_id)
        found = segments_of(fields).get(segment_id)
        answer: dict[str, Any] = {"member": False, "holdout": None, "since": None}
        if found is not None:
            answer = {"member": True, "holdout": found[1], "since": format_ts(found[0])}
        return JSONBody({**answer, "position": format_position(offsets)})

    @v1.get("/gaps", response_model=models.Gaps)
    async def gaps(
        limit: Limit = 100,
        cursor: Cursor = None,
        min_position: MinPosition = None,
        wait_ms: WaitMs = 0,
    ) -> Response:
        """Contacts whose change sequence has a gap, with the seq ranges never received."""
        after = after_cursor(cursor)
        read = await reading(min_position, wait_ms)
        store = await backend.store()
        offsets, found = await store.gaps(read.partitions, after, limit + 1)
        more = len(found) > limit
        found = found[:limit]
        listed = [{"contact_id": c, "seq": q, "missing": gap_ranges(m)} for c, q, m in found]
        return JSONBody(
            {
                "gaps": listed,
                "next": encode_cursor(found[-1][0]) if more else None,
                "position": format_position(offsets),
            }
        )

    app.include_router(v1)
    app.include_router(health_router(backend, config.rules, config.lint, ERRORS))
    app.include_router(page_router(bool(config.token)))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return JSONBody({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        await backend.ping()
        return JSONBody({"status": "ready"})

    @app.get("/metrics", include_in_schema=False)
    async def metrics_text() -> Response:
        stats: list[PartitionStats] | None
        try:
            stats = await segment_sizes(await backend.partitions())
        except UNAVAILABLE as error:
            backend.state.down(error)
            stats = None
        return Response(metrics.render(stats), media_type="text/plain; version=0.0.4")

    return app
