"""Every error answer of the API contract, and a fuzz of paths and parameters with no 500."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from stream.core.language.loader import load_file
from stream.serving.api import ApiConfig, create_app
from stream.serving.changes import change_args
from stream.serving.connection import connect
from stream.serving.keys import partition_of
from stream.serving.store import Store
from stream.testing.waiting import wait_for_async
from tests.integration.serving.conftest import EXAMPLE_RULES
from tests.support.serving import free_port

PARTITIONS = 2
TOKEN = "t0k3n-for-tests"


def _change(contact: str, seq: int, segment: str = "marketing_qualified") -> bytes:
    return orjson.dumps(
        {
            "kind": "segment",
            "contact_id": contact,
            "segment": segment,
            "change": "entered",
            "at": "2026-11-20T10:00:00Z",
            "reason": "event",
            "cause_event_id": f"e{seq}",
            "rules_version": "r",
            "seq": seq,
            "holdout": False,
        }
    )


async def _apply(url: str, namespace: str, messages: list[bytes], first_offset: int) -> None:
    store = Store(await connect(url), namespace)
    try:
        await store.write_meta("changes", PARTITIONS)
        stored = await store.offsets(PARTITIONS)
        for offset, message in enumerate(messages, start=first_offset):
            args = change_args(message)
            p = partition_of(args[0], PARTITIONS)
            await store.apply(p, offset, 0, stored.get(p, -1), list(args))
            stored[p] = offset
    finally:
        await store.aclose()


def _client(app: Any, **headers: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://api", headers=headers)


@pytest.fixture
async def served(redis_url: str, namespace: str) -> AsyncIterator[httpx.AsyncClient]:
    """The API in process over a namespace with a few members, with the right token."""
    contacts = [f"c-{n}" for n in range(5)] + ["with/slash", "ünï"]
    await _apply(redis_url, namespace, [_change(c, 1) for c in contacts], 0)
    app = create_app(ApiConfig(redis_url, namespace, load_file(EXAMPLE_RULES), TOKEN))
    try:
        async with _client(app, Authorization=f"Bearer {TOKEN}") as client:
            yield client
    finally:
        await app.state.backend.aclose()  # ASGITransport runs no lifespan


def _error(answer: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    assert set(body) == {"error", "detail"} and body["error"] == error, body
    assert "Traceback" not in body["detail"]
    return body


@pytest.mark.parametrize(
    ("query", "where"),
    [
        ("limit=0", "limit"), ("limit=1001", "limit"), ("limit=x", "limit"), ("limit=", "limit"),
        ("cursor=%%%", "cursor"), ("cursor=Zm9v!", "cursor"), ("cursor=" + "A" * 1500, "cursor"),
        ("wait_ms=5001", "wait_ms"), ("wait_ms=-1", "wait_ms"), ("min_position=1", "min_position"),
        ("min_position=a:b", "min_position"), ("min_position=0:1,", "min_position"),
    ],
)  # fmt: skip
async def test_bad_parameters_are_400(served: httpx.AsyncClient, query: str, where: str) -> None:
    body = _error(await served.get(f"/v1/segments/marketing_qualified/members?{query}"), 400,
                  "bad_parameter")  # fmt: skip
    assert where in body["detail"]


async def test_unknown_segment_and_contact_are_404(served: httpx.AsyncClient) -> None:
    client = served
    for path in ("/v1/segments/nope", "/v1/segments/nope/members", "/v1/segments/nope/members/c-1",
                 "/v1/contacts/nobody", "/v1/segments/marketing_qualified/members/nobody",
                 "/v1/nothing-here"):  # fmt: skip
        _error(await client.get(path), 404, "not_found")
    _error(await client.post("/v1/segments"), 405, "method_not_allowed")


async def test_contact_ids_with_any_characters(served: httpx.AsyncClient) -> None:
    for contact in ("with/slash", "ünï"):
        answer = await served.get(f"/v1/contacts/{contact}")
        assert answer.status_code == 200, answer.text
        assert answer.json()["contact_id"] == contact
    members = (await served.get("/v1/segments/marketing_qualified/members")).json()["members"]
    assert members == sorted(members) and "with/slash" in members and "ünï" in members
    _error(await served.get("/v1/contacts/" + "x" * 257), 400, "bad_parameter")


async def test_missing_and_wrong_tokens_are_401(redis_url: str, namespace: str) -> None:
    app = create_app(ApiConfig(redis_url, namespace, load_file(EXAMPLE_RULES), TOKEN))
    async with _client(app) as client, _closing(app):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                        {"Authorization": f"Bearer {TOKEN}x"}):  # fmt: skip
            answer = await client.get("/v1/segments", headers=headers)
            _error(answer, 401, "unauthorized")
            assert answer.headers["WWW-Authenticate"] == "Bearer"
        right = {"Authorization": f"Bearer {TOKEN}"}
        assert (await client.get("/v1/segments", headers=right)).is_success
        for open_path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"):
            assert (await client.get(open_path)).status_code == 200, open_path


async def test_min_position_not_reached_is_409_and_reached_within_wait_ms(
    served: httpx.AsyncClient, redis_url: str, namespace: str
) -> None:
    position = (await served.get("/v1/segments")).json()["position"]
    assert (await served.get("/v1/segments", params={"min_position": position})).is_success
    home = partition_of("late", PARTITIONS)
    current = {int(p): int(o) for p, o in (part.split(":") for part in position.split(","))}
    wanted = f"{home}:{current[home] + 1}"
    not_yet = await served.get("/v1/contacts/c-1", params={"min_position": wanted, "wait_ms": 50})
    assert wanted in _error(not_yet, 409, "position_not_reached")["detail"]

    async with Redis.from_url(redis_url) as plain:
        polls_before = await _offset_reads(plain)
        params = {"min_position": wanted, "wait_ms": 5000}
        waiting = asyncio.create_task(served.get("/v1/contacts/late", params=params))

        async def polling() -> bool:
            return await _offset_reads(plain) >= polls_before + 3

        # The request is waiting once the API has read the offsets again a few times.
        await wait_for_async(polling, 5, what="the API to poll for min_position")
        assert not waiting.done()
        await _apply(redis_url, namespace, [_change("late", 1)], current[home] + 1)
        answer = await asyncio.wait_for(waiting, 10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["contact_id"] == "late"


async def _offset_reads(client: Redis) -> int:
    """Offsets are read with GET, one per partition, while a request waits for a position."""
    stats = await client.info("commandstats")
    return int(stats.get("cmdstat_get", {}).get("calls", 0))


@contextlib.asynccontextmanager
async def _closing(app: Any) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await app.state.backend.aclose()  # ASGITransport runs no lifespan


async def test_redis_unreachable_is_503_and_health_stays_up() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    app = create_app(ApiConfig(url, "nowhere"))
    async with _client(app) as client, _closing(app):
        for path in ("/v1/segments", "/v1/contacts/c-1", "/v1/gaps", "/readyz"):
            _error(await client.get(path), 503, "redis_unavailable")
        assert (await client.get("/healthz")).status_code == 200
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200
        assert "segstream_serving_redis_up 0.0" in metrics.text


_TEMPLATES = [
    "/v1/contacts/{a}", "/v1/segments", "/v1/segments/{a}", "/v1/segments/{a}/members",
    "/v1/segments/{a}/members/{b}", "/v1/gaps", "/v1/{a}", "/{a}", "/v1/segments/{a}/{b}",
]  # fmt: skip
_NAMES = st.sampled_from(["limit", "cursor", "min_position", "wait_ms", "x", ""])
_VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["0", "1", "-1", "1000", "1001", "5001", "0:0", "99:1", "Yy0x", "%", "\x00"]),
    st.integers(-(10**30), 10**30).map(str),
)
_SEGMENTS = st.one_of(
    st.text(max_size=70), st.sampled_from(["marketing_qualified", "unsubscribed"])
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    template=st.sampled_from(_TEMPLATES),
    a=_SEGMENTS,
    b=st.one_of(st.text(max_size=300), st.sampled_from(["c-1", "with/slash"])),
    query=st.lists(st.tuples(_NAMES, _VALUES), max_size=5),
)
async def test_fuzzed_paths_and_parameters_never_500(
    served: httpx.AsyncClient, template: str, a: str, b: str, query: list[tuple[str, str]]
) -> None:
    # Keep a fuzzed wait short: the fuzz is about answers, not about waiting.
    # (ASCII digits only: str.isdigit() also takes '²', which int() refuses.)
    query = [(k, "1") if k == "wait_ms" and re.fullmatch(r"[0-9]+", v.strip()) and int(v) > 50
             else (k, v) for k, v in query]  # fmt: skip
    try:
        url = httpx.URL(template.format(a=a, b=b), params=query)
    except (httpx.InvalidURL, ValueError):
        assume(False)
    answer = await served.get(url)
    assert answer.status_code in (200, 400, 404, 405, 409), (url, answer.status_code, answer.text)
    if answer.status_code == 200 and answer.headers["content-type"].startswith("text/"):
        return  # the status page and its assets, served at / and /page/
    body = answer.json()
    if answer.status_code >= 400:
        assert set(body) == {"error", "detail"}, body
