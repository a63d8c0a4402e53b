"""ChatHub's live events reach exactly who may see the chat (SPEC E4): the real app under
uvicorn, people writing to two organizations' bots through the real Telegram webhook, and
hub connections of each organization's operator (operator JWTs) and of the company (its
API key) — each operator gets its own organization's events and never the other's; the
company gets all. A hub invocation on another organization's chat is refused in its
completion, the connection staying up."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets

from cascade.bootstrap import build_app
from cascade.clock import SystemClock
from cascade.domain.chats import OperatorSync
from cascade.security import hash_secret
from cascade.store.sql import SqlStore
from tests.conftest import test_settings as app_settings
from tests.hub_support import Raw, handshake
from tests.test_api_chathub_tokens import SECRET, company
from tests.threaded_server import ThreadedServer

UPDATES = itertools.count(1)


@pytest.fixture
def server(sqlite_url: str) -> Iterator[str]:
    app = build_app(app_settings(sqlite_url, jwt_secret=SECRET))
    with_server = ThreadedServer(app, name="chathub", ws="websockets-sansio")
    url = with_server.start()
    try:
        yield url
    finally:
        with_server.stop()


def write(base: str, bot: str, secret: str, chat_id: int, text: str) -> None:
    update_id = next(UPDATES)
    message = {
        "message_id": update_id,
        "date": 1_700_000_000,
        "chat": {"id": chat_id, "type": "private"},
        "from": {"id": chat_id, "is_bot": False, "first_name": "Olena"},
        "text": text,
    }
    response = httpx.post(
        f"{base}/webhooks/telegram/{bot}",
        json={"update_id": update_id, "message": message},
        headers={"x-telegram-bot-api-secret-token": secret},
        timeout=10,
    )
    assert response.status_code == 200, response.text


async def events(raw: Raw, count: int) -> list[tuple[str, Any]]:
    found = []
    for _ in range(count):
        message = await raw.next()
        assert message["type"] == 1, message
        found.append((message["target"], message["arguments"][0]))
    return found


def said(found: list[tuple[str, Any]]) -> list[str]:
    return [args["message"] for target, args in found if target == "ReceiveMessage"]


async def test_each_operator_gets_its_organizations_events_and_the_company_all(
    server: str, sqlite_url: str
) -> None:
    store = SqlStore(sqlite_url, SystemClock())
    acme = await company(store, "acme")  # "acme support", operator Ann
    sales = await store.create_organization(acme.account.id, "Sales")
    [bob] = await store.synchronize_operators(acme.account.id, [OperatorSync(sales.id, "Bob")])
    bots = {}
    for org in (acme.org.id, sales.id):
        token = f"70000000{org}:token"
        bot = await store.add_bot(acme.account.id, "telegram", token, hash_secret(token))
        await store.attach_bots(acme.account.id, org, [bot])
        row = await store.sender(bot)
        assert row is not None
        bots[org] = (bot, row.webhook_secret)
    await store.close()

    def operator_token(operator_id: int) -> str:
        response = httpx.post(
            f"{server}/api/operator/get-token", headers=acme.key, json={"id": operator_id}
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["token"]
        return token

    ws_url = server.replace("http://", "ws://") + "/chathub?access_token="
    sockets = [
        await websockets.connect(ws_url + token)
        for token in (operator_token(acme.operator.id), operator_token(bob.id), acme.account.key)
    ]
    try:
        ann, bobs, whole = [await handshake(ws) for ws in sockets]
        write(server, *bots[acme.org.id], 1001, "to support")
        write(server, *bots[sales.id], 2002, "to sales")
        write(server, *bots[acme.org.id], 1001, "support again")
        ann_events = await events(ann, 3)
        assert [target for target, _ in ann_events] == [
            "ChatCreated",
            "ReceiveMessage",
            "ReceiveMessage",
        ]
        assert said(ann_events) == ["to support", "support again"]  # never sales'
        bob_events = await events(bobs, 2)
        assert said(bob_events) == ["to sales"]
        assert said(await events(whole, 5)) == ["to support", "to sales", "support again"]
        # Ann answering Sales' chat: refused in the completion, still connected
        sales_chat = bob_events[0][1]["id"]
        refused = await ann.invoke("SendMessage", sales_chat, "hi")
        assert (refused["type"], refused["error"]) == (3, "No such chat")
        wrong = await ann.invoke("SendMessage", "not a number", "hi", invocation_id="2")
        assert wrong["error"].startswith("Argument 'chat_id' of 'SendMessage' is invalid")
        still = await ann.invoke("SendMessage", sales_chat, "still here", invocation_id="3")
        assert still["error"] == "No such chat"
        # Sales closes the chat; the person writes again: it is New again, live
        async with httpx.AsyncClient(base_url=server) as api:
            closed = await api.put(
                "/api/chat/status", headers=acme.key, json={"id": sales_chat, "status": 4}
            )
        assert closed.status_code == 200, closed.text
        write(server, *bots[sales.id], 2002, "me again")
        changes = [await bobs.next() for _ in range(3)]
        assert [(m["target"], m["arguments"]) for m in changes[:2]] == [
            ("ChatStatusChanged", [sales_chat, 4]),
            ("ChatStatusChanged", [sales_chat, 0]),
        ]
        assert changes[2]["arguments"][0]["message"] == "me again"
    finally:
        for ws in sockets:
            await ws.close()
