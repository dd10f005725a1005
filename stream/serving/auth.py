"""Bearer-token auth of the API's /v1/ paths: checked in constant time, before routing."""

from __future__ import annotations

import hmac
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

_MISSING = b"send Authorization: Bearer <token>"
_WRONG = b"the bearer token is not the API's token"


class RequireToken:
    """ASGI middleware: a /v1/ request without `Authorization: Bearer TOKEN` gets a 401.

    Plain ASGI rather than a FastAPI dependency: it runs on every request, and a dependency
    costs a resolution step each time.
    """

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.expected = None if token is None else b"bearer " + token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.expected is None or scope["type"] != "http" or not _guarded(scope["path"]):
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        if given is None:
            await _refuse(send, _MISSING)
            return
        # The scheme is case-insensitive (RFC 7235); the token is compared in constant time.
        if not hmac.compare_digest(given[:7].lower() + given[7:], self.expected):
            await _refuse(send, _WRONG)
            return
        await self.app(scope, receive, send)


def _guarded(path: str) -> bool:
    return path == "/v1" or path.startswith("/v1/")


async def _refuse(send: Send, detail: bytes) -> None:
    body = orjson.dumps({"error": "unauthorized", "detail": detail.decode()})
    headers = [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer"),
               (b"content-length", str(len(body)).encode())]  # fmt: skip
    await send({"type": "http.response.start", "status": 401, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def document_bearer(app: FastAPI) -> None:
    """Declare the bearer scheme on every /v1/ operation of the OpenAPI document."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = plain()
            schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
            schemes["bearer"] = {"type": "http", "scheme": "bearer",
                                 "description": "The value of SEGSTREAM_API_TOKEN."}  # fmt: skip
            for path, operations in schema.get("paths", {}).items():
                if _guarded(path):
                    for operation in operations.values():
                        operation["security"] = [{"bearer": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
