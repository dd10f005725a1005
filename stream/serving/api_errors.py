"""The API's error answers: always JSON `{"error", "detail"}`, never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from stream.serving.connection import UNAVAILABLE, RedisState

log = logging.getLogger(__name__)


class JSONBody(Response):
    """A JSON answer serialised with orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class ApiError(Exception):
    """An answer other than 200: its status, a short error code and what to do about it."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail


def error_body(status: int, error: str, detail: str, **headers: str) -> JSONBody:
    return JSONBody({"error": error, "detail": detail}, status_code=status, headers=headers)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


async def _api_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    return error_body(exc.status, exc.error, exc.detail, **headers)


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "bad_request")
    detail = "no such path (see /docs)" if exc.status_code == 404 else str(exc.detail)
    return error_body(exc.status_code, code, detail, **(exc.headers or {}))


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for item in exc.errors():
        where = ".".join(str(part) for part in item.get("loc", ())[1:]) or "request"
        problems.append(f"{where}: {item.get('msg', 'invalid')}")
    return error_body(400, "bad_parameter", "; ".join(problems) or "invalid request")


def _unavailable(state: RedisState) -> Any:
    async def answer(_: Request, exc: Exception) -> Response:
        state.down(exc)  # logs once per outage, not once per request
        detail = "Redis does not answer; retry shortly (GET /readyz says when it is back)"
        return error_body(503, "redis_unavailable", detail, **{"Retry-After": "1"})

    return answer


async def _unexpected(_: Request, exc: Exception) -> Response:
    log.error("unexpected error answering a request", exc_info=exc)
    return error_body(500, "internal", "an unexpected error; the API's log has the details")


def install(app: FastAPI, state: RedisState) -> None:
    """Route every exception an endpoint can raise to a JSON error answer."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    for kind in UNAVAILABLE:
        app.add_exception_handler(kind, _unavailable(state))
    app.add_exception_handler(Exception, _unexpected)
