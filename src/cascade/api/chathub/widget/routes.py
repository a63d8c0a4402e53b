"""`GET /widget/operator-chat-panel/…`: the operator chat panel's files (SPEC E5).

`widget-script.js` is what a page's script tag names; it loads the rest from
`v/{version}/…` (see `assets` for what each is cached as). Each answer carries its
ETag and is `304 Not Modified` when the browser already holds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar import Request, Response, Router, get
from litestar.params import FromPath
from litestar.types import ControllerRouterHandler

from cascade.api.chathub.widget.assets import Assets
from cascade.api.chathub.widget.cors import CorsPolicy

PATH = "/widget/operator-chat-panel"

_NOT_FOUND = b"No such file of the operator chat panel\n"


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


def widget_router(assets: Assets | None = None) -> Router:
    """The widget's routes (files read from the package once, here)."""
    loaded = assets or Assets.load()

    @get("/{path:path}", include_in_schema=False)
    async def widget_file(request: Request[Any, Any, Any], path: FromPath[str]) -> Response[bytes]:
        found = loaded.find(path)
        if found is None:
            return Response(
                _NOT_FOUND,
                status_code=404,
                media_type="text/plain",  # Litestar adds the charset of text types
                headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
            )
        asset, cache_control = found
        headers = {
            "Cache-Control": cache_control,
            "ETag": asset.etag,
            "X-Content-Type-Options": "nosniff",
            # pages that isolate themselves (COEP) may still load it
            "Cross-Origin-Resource-Policy": "cross-origin",
        }
        if _matches(request.headers.get("if-none-match"), asset.etag):
            return Response(b"", status_code=304, headers=headers)
        return Response(asset.body, media_type=asset.content_type, headers=headers)

    return Router(path=PATH, route_handlers=[widget_file])


def chathub_surface(policy: CorsPolicy, routers: Sequence[ControllerRouterHandler]) -> Router:
    """ChatHub's routers (REST, hub, widget) under one router carrying the CORS policy, so
    the widget's cross-origin calls are answered and no other surface is touched."""
    return Router(path="/", route_handlers=list(routers), middleware=[policy])
