"""A worker's metrics port (`CASCADE_METRICS_PORT`): `GET /metrics` on a small aiohttp
server of its own, beside the engine on the same event loop. API processes serve
`/metrics` on their own port instead."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from cascade.observer import Exposition


@contextlib.asynccontextmanager
async def serving_metrics(exposition: Exposition, host: str, port: int) -> AsyncIterator[int]:
    """Serve `exposition` at http://host:port/metrics while inside; yields the port it
    listens on (the one the system chose when `port` is 0)."""

    async def metrics(_: web.Request) -> web.Response:
        body = await exposition.render()
        return web.Response(body=body, headers={"Content-Type": exposition.content_type})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        yield int(runner.addresses[0][1])
    finally:
        await runner.cleanup()
