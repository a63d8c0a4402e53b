"""A hub served on loopback for tests: a real uvicorn server in a thread, the hub's own
routes, and an `authenticate` that is a real function over a dict of tokens."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pytest
import websockets
from litestar import Litestar
from websockets.asyncio.client import ClientConnection

from cascade.api.chathub.hub import (
    Audience,
    Dismissal,
    Hub,
    HubError,
    HubPrincipal,
    HubSettings,
    LocalBus,
    hub_router,
)
from cascade.clock import SystemClock
from tests.threaded_server import ThreadedServer

RS = "\x1e"
WAIT_S = 5.0


@dataclass(frozen=True)
class Caller:
    """An operator (with `operator_id`) or a company (without) of one account."""

    id: str
    account_id: str
    organization_id: str | None = None
    operator_id: str | None = None
    expires_at_ms: int | None = None

    def sees(self, audience: Audience) -> bool:
        if audience.account_id != self.account_id:
            return False
        if audience.operator_id is not None:
            return audience.operator_id == self.operator_id or self.operator_id is None
        return self.operator_id is None or audience.organization_id == self.organization_id

    def dismissed_by(self, dismissal: Dismissal) -> bool:
        if dismissal.account_id != self.account_id:
            return False
        return dismissal.operator_id is None or dismissal.operator_id == self.operator_id


@dataclass
class Tokens:
    """The test double of the chat code's `authenticate`: a dict of tokens."""

    by_token: dict[str, Caller] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)

    async def __call__(self, token: str) -> HubPrincipal | None:
        self.seen.append(token)
        return self.by_token.get(token)


class Media(msgspec.Struct):
    Name: str
    Format: str
    DataBase64: str
    Type: int


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def register_chat_methods(hub: Hub) -> list[tuple[str, Any]]:
    """Methods shaped like the chat code's: SendMessage and SendMediaMessage, recording
    their calls; the calls list is returned."""
    calls: list[tuple[str, Any]] = []

    async def send_message(caller: HubPrincipal, chat_id: int, text: str) -> dict[str, Any]:
        if chat_id == 404:
            raise HubError("No such chat")
        if chat_id == 500:
            raise RuntimeError("a database fault with secret details")
        calls.append(("SendMessage", (caller.id, chat_id, text)))
        return {"id": len(calls), "chatId": chat_id, "message": text, "author": 0}

    async def send_media(caller: HubPrincipal, chat_id: int, media: Media) -> None:
        calls.append(("SendMediaMessage", (caller.id, chat_id, media)))

    hub.register("SendMessage", send_message)
    hub.register("SendMediaMessage", send_media)
    return calls


class LiveHub:
    """A hub with its routes under uvicorn (WebSockets on) on 127.0.0.1."""

    def __init__(self, tokens: Tokens, settings: HubSettings | None = None) -> None:
        self.tokens = tokens
        self.hub = Hub(tokens, LocalBus(), SystemClock(), settings)
        self.calls = register_chat_methods(self.hub)
        self.loop: asyncio.AbstractEventLoop | None = None

        async def started() -> None:
            self.loop = asyncio.get_running_loop()

        self.app = Litestar(
            route_handlers=[hub_router(self.hub)],
            on_startup=[started],
            on_shutdown=[self.hub.close],
        )
        self.server = ThreadedServer(self.app, name="hub", ws="websockets-sansio")
        self.url = ""

    def start(self) -> str:
        self.url = self.server.start()
        return self.url

    def stop(self) -> None:
        self.server.stop()

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/chathub"

    def run(self, work: Any) -> Any:
        """Run a coroutine on the server's loop; its result."""
        assert self.loop is not None
        future: Future[Any] = asyncio.run_coroutine_threadsafe(work, self.loop)
        return future.result(timeout=10)

    def publish(self, event: str, args: list[Any], audience: Audience) -> None:
        self.run(self.hub.publish(event, args, audience))

    def connections(self) -> int:
        async def count() -> int:
            return self.hub.connections

        return int(self.run(count()))


@contextmanager
def live_hub(tokens: Tokens, settings: HubSettings | None = None) -> Iterator[LiveHub]:
    live = LiveHub(tokens, settings)
    live.start()
    try:
        yield live
    finally:
        live.stop()


class Raw:
    """A hub client written from the specification, a frame at a time."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.pending: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message) + RS)

    async def next(self, *, pings: bool = False, within: float = WAIT_S) -> dict[str, Any]:
        """The next message (pings skipped unless asked for)."""
        while True:
            while not self.pending:
                frame = await asyncio.wait_for(self.ws.recv(), within)
                assert isinstance(frame, str), "JSON goes in text frames"
                assert frame.endswith(RS)
                self.pending.extend(json.loads(r) for r in frame.split(RS) if r)
            message = self.pending.pop(0)
            if pings or message.get("type") != 6:
                return message

    async def invoke(self, target: str, *args: Any, invocation_id: str = "1") -> dict[str, Any]:
        await self.send(
            {"type": 1, "invocationId": invocation_id, "target": target, "arguments": list(args)}
        )
        return await self.next()

    async def closed(self) -> int | None:
        """Wait for the server to close the socket; its close code."""
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await self._drain()
        return closed.value.rcvd.code if closed.value.rcvd else None

    async def _drain(self) -> None:
        while True:
            await asyncio.wait_for(self.ws.recv(), WAIT_S)


async def handshake(ws: ClientConnection) -> Raw:
    await ws.send(json.dumps({"protocol": "json", "version": 1}) + RS)
    assert await asyncio.wait_for(ws.recv(), WAIT_S) == "{}" + RS
    return Raw(ws)
