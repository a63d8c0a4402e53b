"""`/chathub` over HTTP: `POST /chathub/negotiate` and the WebSocket at `/chathub`.

Only the WebSockets transport is offered. Server-Sent Events and Long Polling keep a
connection's state in the memory of the process that negotiated it, and every later
request of that connection (each poll, each send) must reach that same process: behind
several API processes without sticky sessions they would fail at random, and every
client ChatHub serves (browsers, Node, Python, .NET) speaks WebSockets. A client that
allows only those transports fails at once after negotiate with its library's own error
("Unable to connect to the server with any of the available transports. WebSockets
failed: Error: 'WebSockets' is disabled by the client."); one whose WebSocket is blocked
fails with the WebSocket's error, there being no other transport to fall back to.

The bearer token comes as `Authorization: Bearer …` or the `access_token` query
parameter (browsers cannot set headers on a WebSocket), and is checked by the one
`authenticate` callable on negotiate and again on the WebSocket.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import msgspec
from litestar import Request, Response, Router, WebSocket, post, websocket
from litestar.datastructures import Headers
from litestar.types import WebSocketResponseBodyEvent, WebSocketResponseStartEvent

from cascade.api.chathub.hub import tokens
from cascade.api.chathub.hub.hub import Hub
from cascade.api.chathub.hub.types import HubPrincipal

log = logging.getLogger(__name__)

JSON = "application/json"
_encode = msgspec.json.encode

# Text only: this hub speaks the JSON protocol, which WebSockets carry in text frames
TRANSPORTS = [{"transport": "WebSockets", "transferFormats": ["Text"]}]
NEGOTIATE_VERSIONS = (0, 1)


def bearer_token(headers: Headers, query: Any) -> str | None:
    header = headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    token = query.get("access_token")
    return token if isinstance(token, str) and token else None


async def _principal(hub: Hub, token: str | None) -> HubPrincipal | None:
    if token is None:
        return None
    principal = await hub.authenticate(token)
    if principal is None:
        return None
    expires = principal.expires_at_ms
    if expires is not None and expires <= hub.clock.now_ms():
        return None
    return principal


def _json(status: int, body: object) -> Response[bytes]:
    return Response(_encode(body), status_code=status, media_type=JSON)


def hub_router(hub: Hub, path: str = "/chathub") -> Router:
    @post("/negotiate", status_code=200)
    async def negotiate(request: Request[Any, Any, Any]) -> Response[bytes]:
        raw_version = request.query_params.get("negotiateVersion", "0")
        try:
            asked = int(raw_version)
        except ValueError:
            asked = -1
        if asked < 0:
            return _json(400, {"error": f"Invalid negotiate version '{raw_version}'"})
        token = bearer_token(request.headers, request.query_params)
        if await _principal(hub, token) is None or token is None:
            return _json(401, {"error": "Missing, invalid or expired access token"})
        version = min(asked, NEGOTIATE_VERSIONS[-1])
        connection_id = tokens.new_connection_id()
        connection_token = tokens.issue(token, connection_id, hub.clock.now_ms() / 1000)
        if version == 0:  # version 0 has no token: its connectionId is what `id` carries
            body = {
                "negotiateVersion": 0,
                "connectionId": connection_token,
                "availableTransports": TRANSPORTS,
            }
        else:
            body = {
                "negotiateVersion": version,
                "connectionId": connection_id,
                "connectionToken": connection_token,
                "availableTransports": TRANSPORTS,
            }
        return _json(200, body)

    @websocket("/")
    async def connect(socket: WebSocket[Any, Any, Any]) -> None:
        try:  # before the principal is read: no dismissal after that read goes unheard
            await hub.listen()
        except Exception:
            log.exception("chathub: cannot listen for events")
            await _refuse(socket, 500, "Events are unavailable; retry later")
            return
        authenticated_at = time.monotonic()
        token = bearer_token(socket.headers, socket.query_params)
        principal = await _principal(hub, token)
        if principal is None or token is None:
            await _refuse(socket, 401, "Missing, invalid or expired access token")
            return
        asked = socket.query_params.get("id")
        if asked:
            connection_id = tokens.open_token(asked, token, hub.clock.now_ms() / 1000)
            if connection_id is None:
                await _refuse(socket, 404, "No such connection: negotiate again")
                return
            if hub.is_open(connection_id):
                await _refuse(socket, 409, "This connection already has its WebSocket")
                return
        else:  # negotiate skipped: a connection of its own
            connection_id = tokens.new_connection_id()
        await socket.accept()
        connection = hub.connection(connection_id, principal, socket.receive, socket.send)
        if await connection.handshake():
            await hub.attach(connection, authenticated_at)

    return Router(path=path, route_handlers=[negotiate, connect])


async def _refuse(socket: WebSocket[Any, Any, Any], status: int, error: str) -> None:
    """Answer the upgrade request with `status` where the server lets the app do so (the
    ASGI denial-response extension: uvicorn); elsewhere close before accepting, which
    the server answers with 403."""
    await socket.receive()  # websocket.connect
    if "websocket.http.response" in (socket.scope.get("extensions") or {}):
        body = _encode({"error": error})
        start: WebSocketResponseStartEvent = {
            "type": "websocket.http.response.start",
            "status": status,
            "headers": [
                (b"content-type", JSON.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
        await socket.send(start)
        done: WebSocketResponseBodyEvent = {
            "type": "websocket.http.response.body",
            "body": body,
            "more_body": False,
        }
        await socket.send(done)
        return
    await socket.close(code=1008, reason=error[:120])
