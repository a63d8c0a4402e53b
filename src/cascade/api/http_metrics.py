"""HTTP latency by route: an ASGI middleware that tells the observer how long each request
took, labelled with the route's template (`/api/CascadeMessage/status/{message_id:str}`),
never the raw path, which would make one series per message id.

It runs where Litestar runs route middleware, after routing: a path that matches no route
(a 404 from the router) is not timed, so a scanner's guesses add no series.
"""

from __future__ import annotations

from collections.abc import Callable

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from cascade.clock import Clock
from cascade.observer import Observer


def timed(observer: Observer, clock: Clock) -> Callable[[ASGIApp], ASGIApp]:
    """A Litestar middleware factory (`Litestar(middleware=[timed(...)])`)."""

    def middleware(app: ASGIApp) -> ASGIApp:
        async def timed_app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            started = clock.monotonic()
            status = 500  # if the app ends without answering

            async def send_noting_status(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await app(scope, receive, send_noting_status)
            finally:
                observer.http_request(
                    scope["method"],
                    scope.get("path_template") or "unmatched",
                    status,
                    clock.monotonic() - started,
                )

        return timed_app

    return middleware
