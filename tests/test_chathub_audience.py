"""ChatHub's live events reach exactly who may see the chat (SPEC E4): the real app under
uvicorn, people writing to two organizations' bots through the real Telegram webhook (the
Bot API behind it an `httpx.MockTransport`), and hub connections of operators (operator
JWTs) and of companies (API keys) — each operator gets its own organization's events and
never another's; its company gets all of them; another account nothing.

What is told: a person's message and its media (`ReceiveMessage`, then
`ReceiveMediaMessage` once the bytes are fetched; the media's URL serves them to who sees
the chat only); an operator's answer, from the hub or REST, to the chat's other operators
and its company (`ReceiveMessage` / `ReceiveMediaMessage`, then `MessageStatusChanged`);
a chat an operator's status change hands on or releases (`ChatCreated`, with the chat's
operator as it is now). That nobody else is told is shown by the next event each
outsider gets being one of its own, published after.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import websockets

from cascade.bootstrap import build_app
from cascade.channels.telegram import TelegramChannel
from cascade.clock import SystemClock
from cascade.domain.chats import Operator, OperatorSync
from cascade.security import hash_secret
from cascade.store.sql import SqlStore
from tests.chathub_company import SECRET, Company, company
from tests.conftest import test_settings as app_settings
from tests.hub_support import Raw, handshake
from tests.test_api_chathub_chats import JPEG, TG_BASE, BotApi
from tests.threaded_server import ThreadedServer

UPDATES = itertools.count(1)
PUBLIC = "http://cascade.test"  # the settings' public URL, which media URIs start with
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))

Bot = tuple[str, str]  # the bot's id, its webhook secret


@dataclass
class World:
    url: str
    acme: Company  # its "acme support" organization, operator Ann
    bea: Operator  # acme support's second operator
    bob: Operator  # the only operator of acme's Sales
    support_bot: Bot
    sales_bot: Bot
    other: Company  # another account
    other_bot: Bot

    def operator_token(self, operator: Operator) -> str:
        response = httpx.post(
            f"{self.url}/api/operator/get-token", headers=self.acme.key, json={"id": operator.id}
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["token"]
        return token

    def chat_of(self, address: int) -> int:
        """The chat of the person at `address` (a Telegram chat id), as acme's key lists it."""
        found = httpx.get(
            f"{self.url}/api/chat/chats", headers=self.acme.key, params={"tg_user_id": address}
        )
        [chat] = found.json()["items"]
        chat_id: int = chat["id"]
        return chat_id


async def _bot(store: SqlStore, c: Company, org: int, number: int) -> Bot:
    token = f"70000000{number}:token"
    bot = await store.add_bot(c.account.id, "telegram", token, hash_secret(token))
    await store.attach_bots(c.account.id, org, [bot])
    row = await store.sender(bot)
    assert row is not None
    return bot, row.webhook_secret


@pytest.fixture
def bot_api() -> BotApi:
    return BotApi()


@pytest.fixture
async def world(sqlite_url: str, bot_api: BotApi) -> AsyncIterator[World]:
    store = SqlStore(sqlite_url, SystemClock())
    acme = await company(store, "acme")
    sales = await store.create_organization(acme.account.id, "Sales")
    bea, bob = await store.synchronize_operators(
        acme.account.id, [OperatorSync(acme.org.id, "Bea"), OperatorSync(sales.id, "Bob")]
    )
    other = await company(store, "other")
    bots = [
        await _bot(store, acme, acme.org.id, 1),
        await _bot(store, acme, sales.id, 2),
        await _bot(store, other, other.org.id, 3),
    ]
    await store.close()
    http = httpx.AsyncClient(transport=httpx.MockTransport(bot_api.handle))
    app = build_app(
        app_settings(sqlite_url, jwt_secret=SECRET),
        chat_channels={"telegram": TelegramChannel(TG_BASE, http)},
    )
    server = ThreadedServer(app, name="chathub", ws="websockets-sansio")
    url = server.start()
    try:
        yield World(url, acme, bea, bob, *bots[:2], other, bots[2])
    finally:
        server.stop()
        await http.aclose()


def write(base: str, bot: Bot, chat_id: int, text: str = "", **more: Any) -> None:
    """The person at `chat_id` writes to `bot`, through its real webhook."""
    bot_id, secret = bot
    update_id = next(UPDATES)
    message = {
        "message_id": update_id,
        "date": 1_700_000_000,
        "chat": {"id": chat_id, "type": "private"},
        "from": {"id": chat_id, "is_bot": False, "first_name": "Olena"},
        **({"text": text} if text else {}),
        **more,
    }
    response = httpx.post(
        f"{base}/webhooks/telegram/{bot_id}",
        json={"update_id": update_id, "message": message},
        headers={"x-telegram-bot-api-secret-token": secret},
        timeout=10,
    )
    assert response.status_code == 200, response.text


@asynccontextmanager
async def connected(base: str, *tokens: str) -> AsyncIterator[list[Raw]]:
    """One hub connection per token (an operator JWT or an API key), handshaken."""
    ws_url = base.replace("http://", "ws://") + "/chathub?access_token="
    sockets = [await websockets.connect(ws_url + token) for token in tokens]
    try:
        yield [await handshake(ws) for ws in sockets]
    finally:
        for ws in sockets:
            await ws.close()


async def events(raw: Raw, count: int) -> list[tuple[str, Any]]:
    found = []
    for _ in range(count):
        message = await raw.next()
        assert message["type"] == 1, message
        found.append((message["target"], message["arguments"][0]))
    return found


async def invoke(raw: Raw, target: str, *args: Any) -> tuple[dict[str, Any], list[Any]]:
    """Invoke `target`; its completion, and the events that came before it."""
    await raw.send({"type": 1, "invocationId": "i", "target": target, "arguments": list(args)})
    before = []
    while (message := await raw.next())["type"] != 3:
        before.append((message["target"], message["arguments"]))
    return message, before


def said(found: list[tuple[str, Any]]) -> list[str]:
    return [args["message"] for target, args in found if target == "ReceiveMessage"]


async def test_each_operator_gets_its_organizations_events_and_the_company_all(
    world: World,
) -> None:
    w = world
    tokens = (w.operator_token(w.acme.operator), w.operator_token(w.bob), w.acme.account.key)
    async with connected(w.url, *tokens) as (ann, bobs, whole):
        write(w.url, w.support_bot, 1001, "to support")
        write(w.url, w.sales_bot, 2002, "to sales")
        write(w.url, w.support_bot, 1001, "support again")
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
        async with httpx.AsyncClient(base_url=w.url) as api:
            closed = await api.put(
                "/api/chat/status", headers=w.acme.key, json={"id": sales_chat, "status": 4}
            )
        assert closed.status_code == 200, closed.text
        write(w.url, w.sales_bot, 2002, "me again")
        changes = [await bobs.next() for _ in range(3)]
        assert [(m["target"], m["arguments"]) for m in changes[:2]] == [
            ("ChatStatusChanged", [sales_chat, 4]),
            ("ChatStatusChanged", [sales_chat, 0]),
        ]
        assert changes[2]["arguments"][0]["message"] == "me again"


async def test_a_chat_an_operators_status_change_places_reaches_its_new_operator(
    world: World,
) -> None:
    w = world
    ann, bea = w.acme.operator, w.bea
    write(w.url, w.support_bot, 1001, "hello")  # Ann's: as few chats as Bea, a lower id
    chat = w.chat_of(1001)
    tokens = [w.operator_token(op) for op in (ann, bea, w.bob)]
    async with connected(w.url, *tokens, w.acme.account.key, w.other.account.key) as hubs:
        anns, beas, bobs, whole, others = hubs

        async def status(operator: Operator, value: int) -> None:
            async with httpx.AsyncClient(base_url=w.url) as api:
                response = await api.post(
                    "/api/operator/status",
                    headers=w.acme.key,
                    json={"id": operator.id, "status": value},
                )
            assert response.status_code == 200, response.text

        async def told(raw: Raw) -> tuple[int, Any]:
            [(target, dto)] = await events(raw, 1)
            assert target == "ChatCreated"
            return dto["id"], dto["operator"]

        # Ann goes inactive: her chat is Bea's, and Bea, Ann and the company are told
        await status(ann, 1)
        to_bea = (chat, {"id": bea.id, "name": "Bea", "photo": None})
        assert [await told(raw) for raw in (beas, anns, whole)] == [to_bea] * 3
        # Bea too: nobody is active, the chat waits unassigned
        await status(bea, 1)
        assert [await told(raw) for raw in (beas, anns, whole)] == [(chat, None)] * 3
        # Ann is back: she takes the unassigned chat
        await status(ann, 0)
        to_ann = (chat, {"id": ann.id, "name": "Ann", "photo": None})
        assert [await told(raw) for raw in (anns, beas, whole)] == [to_ann] * 3
        # Sales' operator and the other account heard none of it: the first event each
        # gets is the one about its own chat, published after all of the above
        write(w.url, w.sales_bot, 2002, "to sales")
        write(w.url, w.other_bot, 3003, "to the other company")
        [(target, dto)] = await events(bobs, 1)
        assert (target, dto["client"]["name"], dto["organizationId"]) == (
            "ChatCreated",
            "Olena",
            w.bob.organization_id,
        )
        [(target, dto)] = await events(others, 1)
        assert (target, dto["organizationId"]) == ("ChatCreated", w.other.org.id)


async def test_an_operators_answer_reaches_the_chats_other_operators_and_the_company(
    world: World, bot_api: BotApi
) -> None:
    w = world
    write(w.url, w.support_bot, 1001, "hello")
    chat = w.chat_of(1001)
    tokens = [w.operator_token(op) for op in (w.acme.operator, w.acme.operator, w.bea, w.bob)]
    hubs = connected(w.url, *tokens, w.acme.account.key)
    async with hubs as (anns, anns_tab, beas, bobs, whole):
        # Ann answers on the hub, from one of her two tabs
        completion, before = await invoke(anns, "SendMessage", chat, "On it")
        sent = completion["result"]
        assert (sent["message"], sent["author"], sent["status"]) == ("On it", 0, 1)
        expected = [
            ("ChatStatusChanged", [chat, 1]),  # an operator answered: Open
            ("ReceiveMessage", "On it"),
            ("MessageStatusChanged", [sent["id"], 1]),  # Telegram accepted it
        ]
        for raw in (anns_tab, beas, whole):
            messages = [await raw.next() for _ in range(3)]
            shown = [
                (m["target"], m["arguments"][0]["message"])
                if m["target"] == "ReceiveMessage"
                else (m["target"], m["arguments"])
                for m in messages
            ]
            assert shown == expected
            echo = messages[1]["arguments"][0]
            assert (echo["id"], echo["chatId"], echo["author"], echo["operatorId"]) == (
                sent["id"],
                chat,
                0,
                w.acme.operator.id,
            )
        # the sending connection has the answer in its completion: it is told the rest
        # (published in this order: an echo would have come between the two)
        got = [(target, args) for target, args in before]
        while len(got) < 2:
            message = await anns.next()
            got.append((message["target"], message["arguments"]))
        assert got == [expected[0], expected[2]]
        assert bot_api.sent[-1] == ("sendMessage", {"chat_id": "1001", "text": "On it"})

        # Bea answers over REST with a picture: Ann's tabs and the company see it, and it
        # is fetchable
        upload = {"name": "card.png", "format": "image/png", "type": 1}
        async with httpx.AsyncClient(base_url=w.url) as api:
            response = await api.post(
                f"/api/chat/{chat}/message",
                headers={"Authorization": f"Bearer {tokens[1]}"},
                json={
                    "textMessage": "Here",
                    "author": 0,
                    "media": {**upload, "dataBase64": base64.b64encode(PNG).decode()},
                },
            )
            assert response.status_code == 200, response.text
            for raw in (anns, anns_tab, whole):
                [(target, media), (then, status)] = [
                    (m["target"], m["arguments"]) for m in [await raw.next() for _ in range(2)]
                ]
                assert (target, then) == ("ReceiveMediaMessage", "MessageStatusChanged")
                [echo] = media
                assert (echo["id"], echo["message"], echo["author"]) == (
                    response.json()["id"],
                    "Here",
                    0,
                )
                assert status == [echo["id"], 1]
                uri = echo["media"]["uri"].removeprefix(PUBLIC)
                served = await api.get(uri, headers={"Authorization": f"Bearer {tokens[0]}"})
                assert served.content == PNG
        # Sales' operator heard none of it: its first event is its own chat's, made after
        write(w.url, w.sales_bot, 2002, "to sales")
        [(target, dto)] = await events(bobs, 1)
        assert (target, dto["organizationId"]) == ("ChatCreated", w.bob.organization_id)


async def test_a_persons_photo_reaches_the_operator_and_only_its_organization_reads_it(
    world: World,
) -> None:
    w = world
    tokens = [w.operator_token(op) for op in (w.acme.operator, w.bob)]
    async with connected(w.url, tokens[0]) as (anns,):
        photo = [{"file_id": "f1", "file_unique_id": "u1", "width": 1, "height": 1}]
        write(w.url, w.support_bot, 1001, photo=photo, caption="my receipt")
        found = [await anns.next() for _ in range(3)]
        assert [m["target"] for m in found] == [
            "ChatCreated",
            "ReceiveMessage",  # stored before the webhook was answered, its bytes to come
            "ReceiveMediaMessage",  # fetched after
        ]
        first, media = found[1]["arguments"][0], found[2]["arguments"][0]
        assert (first["mediaPending"], "media" in first) == (True, False)
        assert (media["id"], media["message"], media["author"]) == (first["id"], "my receipt", 1)
        assert "mediaPending" not in media
        assert (media["media"]["format"], media["media"]["size"]) == ("image/jpeg", len(JPEG))
    uri = media["media"]["uri"]
    assert uri.startswith(f"{PUBLIC}/api/chat/{media['chatId']}/media/")
    path = uri.removeprefix(PUBLIC)
    async with httpx.AsyncClient(base_url=w.url) as api:
        served = await api.get(path, headers={"Authorization": f"Bearer {tokens[0]}"})
        assert served.status_code == 200
        assert (served.content, served.headers["content-type"]) == (JPEG, "image/jpeg")
        # another organization's operator, another account, nobody: as if there were none
        for headers in ({"Authorization": f"Bearer {tokens[1]}"}, w.other.key):
            refused = await api.get(path, headers=headers)
            assert refused.status_code == 404, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
        assert (await api.get(path)).status_code == 401
