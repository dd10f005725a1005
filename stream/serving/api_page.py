"""The status page at `/`: static files shipped in the package, which read `/v1/` themselves."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at runtime.

from importlib.resources import files

from fastapi import APIRouter
from starlette.responses import Response

from stream.serving.api_errors import ApiError, JSONBody

# The page's files and their types; nothing else is served, so no path reaches the disk.
ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}


def page_router(token_required: bool) -> APIRouter:
    """`/`, `/page/{name}` and `/page/config.json`; open like /healthz: the data needs the token.

    The config says whether a token is needed, so that a page without one shows the login
    message at once instead of asking /v1/ for a 401.
    """
    router = APIRouter(include_in_schema=False)
    content = {
        name: files("stream.serving").joinpath(f"page/{name}").read_bytes() for name in ASSETS
    }

    @router.get("/")
    async def index() -> Response:
        return Response(content["index.html"], media_type=ASSETS["index.html"])

    @router.get("/page/config.json")
    async def config() -> Response:
        return JSONBody({"token_required": token_required})

    @router.get("/page/{name}")
    async def asset(name: str) -> Response:
        if name not in ASSETS:
            raise ApiError(404, "not_found", f"no page file {name!r}")
        return Response(content[name], media_type=ASSETS[name])

    return router
