"""Serving metric names, each with its meaning, and their Prometheus text for `GET /metrics`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stream.serving.store import PartitionStats

# --- per API process ---
REQUESTS = "segstream_api_requests"  # requests answered, by route template and status
REQUEST_SECONDS = "segstream_api_request_seconds"  # time to answer, by route template

# --- the materialiser's, read from Redis (exact across restarts), by change-topic partition ---
APPLIED = "segstream_serving_applied"  # change messages applied
REDELIVERED = "segstream_serving_redelivered"  # change messages at or below the stored seq
GAPS = "segstream_serving_gaps"  # seq jumps of more than one: changes lost upstream
GAPS_FILLED = "segstream_serving_gaps_filled"  # late copies of a missing seq
INVALID = "segstream_serving_invalid"  # messages that are not change messages, skipped
OPEN_GAPS = "segstream_serving_open_gaps"  # contacts listed by GET /v1/gaps
OFFSET = "segstream_serving_offset"  # offset of the last change message applied
MEMBERS = "segstream_serving_segment_members"  # current members per segment, all partitions
REDIS_UP = "segstream_serving_redis_up"  # 1 when Redis answered this scrape, else 0

_COUNTERS = (
    (APPLIED, "applied", "Change messages applied."),
    (REDELIVERED, "redelivered", "Change messages at or below the stored seq, skipped."),
    (GAPS, "gaps", "Seq jumps of more than one: change messages lost upstream."),
    (GAPS_FILLED, "filled", "Late copies of a missing seq."),
    (INVALID, "invalid", "Messages that are not change messages, skipped."),
)


class ServingMetrics:
    """The API's registry: its own request metrics, and the materialiser's read from Redis."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            REQUESTS, "Requests answered.", ["route", "status"], registry=self.registry
        )
        self.seconds = Histogram(
            REQUEST_SECONDS,
            "Time to answer a request.",
            ["route"],
            buckets=(0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
            registry=self.registry,
        )
        self._stats: list[PartitionStats] | None = None
        self.registry.register(self)

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(REDIS_UP, "1 when Redis answered this scrape.")
        up.add_metric([], 0 if self._stats is None else 1)
        yield up
        if self._stats is None:
            return
        for name, field, doc in _COUNTERS:
            family = CounterMetricFamily(name, doc, labels=["partition"])
            for p, stats in enumerate(self._stats):
                family.add_metric([str(p)], stats.counters.get(field, 0))
            yield family
        gaps = GaugeMetricFamily(OPEN_GAPS, "Contacts with an open gap.", labels=["partition"])
        offsets = GaugeMetricFamily(OFFSET, "Last applied offset.", labels=["partition"])
        for p, stats in enumerate(self._stats):
            gaps.add_metric([str(p)], stats.open_gaps)
            if stats.offset is not None:
                offsets.add_metric([str(p)], stats.offset)
        members = GaugeMetricFamily(MEMBERS, "Current members.", labels=["segment"])
        totals: dict[str, int] = {}
        for stats in self._stats:
            for segment, size in stats.sizes.items():
                totals[segment] = totals.get(segment, 0) + size
        for segment, size in sorted(totals.items()):
            members.add_metric([segment], size)
        yield from (gaps, offsets, members)

    def render(self, stats: list[PartitionStats] | None) -> bytes:
        """The text format, with the materialiser's figures from `stats` (None: Redis down)."""
        self._stats = stats
        try:
            return generate_latest(self.registry)
        finally:
            self._stats = None


class MeasureRequests:
    """ASGI middleware: count and time every HTTP request by its route template."""

    def __init__(self, app: ASGIApp, metrics: ServingMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            # The router records the matched route in the scope it was given.
            route: Any = scope.get("route")
            template = getattr(route, "path", "unmatched")
            self.metrics.requests.labels(template, str(status)).inc()
            self.metrics.seconds.labels(template).observe(time.perf_counter() - started)
