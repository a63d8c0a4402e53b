"""`Hub.dismiss`: the connections whose principal is dismissed are closed with the Close
message the dismissal says, the others stay; and one whose principal was read before a
dismissal and whose handshake ends after it is closed as soon as it is attached. A real
hub under uvicorn with real WebSocket clients (tests/hub_support.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from cascade.api.chathub.hub import Audience, Dismissal
from tests.hub_support import RS, WAIT_S, Caller, LiveHub, Raw, Tokens, handshake, live_hub

CLOSE = 7


@pytest.fixture
def hub() -> Iterator[LiveHub]:
    callers = {
        "ann": Caller("ann", "acc", "org-1", "ann"),
        "bob": Caller("bob", "acc", "org-1", "bob"),
        "company": Caller("company", "acc"),
        "other": Caller("other", "acc-2"),
    }
    with live_hub(Tokens(callers)) as live:
        yield live


async def opened(hub: LiveHub, token: str) -> ClientConnection:
    return await websockets.connect(f"{hub.ws_url}?access_token={token}", open_timeout=WAIT_S)


async def test_only_the_dismissed_connections_close_with_the_dismissals_close(
    hub: LiveHub,
) -> None:
    ann, bob, company, other = [
        await handshake(await opened(hub, t)) for t in ("ann", "bob", "company", "other")
    ]
    moved = Dismissal("acc", "moved", allow_reconnect=True, operator_id="ann")
    await asyncio.to_thread(hub.run, hub.hub.dismiss(moved))
    assert await ann.next() == {"type": CLOSE, "error": "moved", "allowReconnect": True}
    assert await ann.closed() == 1000
    # the others stay: the first thing each gets is an event published after
    await asyncio.to_thread(hub.publish, "ChatCreated", [1], Audience("acc", "org-1"))
    await asyncio.to_thread(hub.publish, "ChatCreated", [2], Audience("acc-2"))
    for raw, chat in ((bob, 1), (company, 1), (other, 2)):
        assert await raw.next() == {"type": 1, "target": "ChatCreated", "arguments": [chat]}
    suspended = Dismissal("acc", "The account is suspended")
    await asyncio.to_thread(hub.run, hub.hub.dismiss(suspended))
    for raw in (bob, company):
        assert await raw.next() == {"type": CLOSE, "error": "The account is suspended"}
        assert await raw.closed() == 1000
    await other.ws.close()


async def test_a_dismissal_between_authentication_and_handshake_closes_on_attach(
    hub: LiveHub,
) -> None:
    ws = await opened(hub, "ann")  # authenticated and accepted; no handshake yet
    await asyncio.to_thread(
        hub.run, hub.hub.dismiss(Dismissal("acc", "deleted", operator_id="ann"))
    )
    await ws.send(json.dumps({"protocol": "json", "version": 1}) + RS)
    assert await asyncio.wait_for(ws.recv(), WAIT_S) == "{}" + RS
    raw = Raw(ws)
    # an event it would see, published after: the Close comes first, then nothing
    await asyncio.to_thread(hub.publish, "ChatCreated", [1], Audience("acc", "org-1"))
    assert await raw.next() == {"type": CLOSE, "error": "deleted"}
    assert await raw.closed() == 1000
