"""ChatHub's chats and messages over REST (SPEC E3), on SQLite and PostgreSQL, with the real
app in process and the real Telegram channel talking to a Bot API double on an
`httpx.MockTransport`: people write through the real webhook (stored before it is
answered), operators answer, statuses follow, media go both ways; who sees which chat;
and every bad input the issue lists is a problem document, never a 5xx.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from cascade.api.auth import Authenticator
from cascade.api.chathub.conversations import ChatHubPrincipal, Conversations
from cascade.api.chathub.hub import Audience, Hub, LocalBus
from cascade.api.chathub.tokens import ChatPrincipal, TokenKind
from cascade.bootstrap import build_app, build_chat_auth, chat_authenticate
from cascade.channels.registry import SOURCE_OF_CHANNEL
from cascade.channels.telegram import TelegramChannel
from cascade.clock import ManualClock
from cascade.domain.chats import MAX_MEDIA_BYTES, OperatorSync
from cascade.domain.events import BotChatMessage, ChatContent, MediaRef
from cascade.security import hash_secret
from cascade.store.sql import SqlStore
from tests.chathub_company import SECRET, Company, assert_problem, company
from tests.conftest import test_settings as app_settings

TG_BASE = "https://tg.test"
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8


@dataclass
class BotApi:
    """The Bot API as the channel sees it: what was sent, what a file download answers."""

    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    refuse: bool = False
    file_failures: int = 0
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(500))

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith("/file/"):
            if self.file_failures:
                self.file_failures -= 1
                return httpx.Response(502)
            return httpx.Response(200, content=JPEG, headers={"content-type": "image/jpeg"})
        method = path.rsplit("/", 1)[-1]
        if method == "getFile":
            result = {"file_id": "f1", "file_size": len(JPEG), "file_path": "photos/f1.jpg"}
            return httpx.Response(200, json={"ok": True, "result": result})
        if request.headers["content-type"].startswith("multipart/"):
            body: dict[str, Any] = {"multipart": True, "size": len(request.content)}
        else:
            body = json.loads(request.content)
        self.sent.append((method, body))
        if self.refuse:
            error = {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked"}
            return httpx.Response(403, json=error)
        message = {"message_id": next(self.ids), "date": 0, "chat": {"id": 1, "type": "private"}}
        return httpx.Response(200, json={"ok": True, "result": message})


class World:
    def __init__(self, api: httpx.AsyncClient, store: SqlStore, acme: Company, bot: str) -> None:
        self.api = api
        self.store = store
        self.acme = acme
        self.bot = bot
        self.updates = itertools.count(1)

    async def person_writes(self, chat_id: int, text: str = "", **more: Any) -> httpx.Response:
        sender = await self.store.sender(self.bot)
        assert sender is not None
        update_id = next(self.updates)
        message = {
            "message_id": update_id,
            "date": 1_700_000_000,
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "Olena"},
            **({"text": text} if text else {}),
            **more,
        }
        return await self.api.post(
            f"/webhooks/telegram/{self.bot}",
            json={"update_id": update_id, "message": message},
            headers={"x-telegram-bot-api-secret-token": sender.webhook_secret},
        )


@pytest.fixture
def bot_api() -> BotApi:
    return BotApi()


@pytest.fixture
async def world(
    store: SqlStore, clock: ManualClock, db_url: str, bot_api: BotApi
) -> AsyncIterator[World]:
    acme = await company(store, "acme")
    token = "7000000001:test-token"
    bot = await store.add_bot(acme.account.id, "telegram", token, hash_secret(token))
    await store.attach_bots(acme.account.id, acme.org.id, [bot])
    http = httpx.AsyncClient(transport=httpx.MockTransport(bot_api.handle))
    channel = TelegramChannel(TG_BASE, http)
    settings = app_settings(db_url, jwt_secret=SECRET)
    # one process: events in process (no PostgreSQL listener to leave open without a lifespan)
    auth = build_chat_auth(settings, store, clock, Authenticator(store, clock, 0))
    hub = Hub(chat_authenticate(auth), LocalBus(), clock)
    app = build_app(
        settings, clock=clock, store=store, hub=hub, chat_channels={"telegram": channel}
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cascade.test") as api:
        yield World(api, store, acme, bot)
    for task in asyncio.all_tasks():  # the media fetcher a person's photo started
        if getattr(task.get_coro(), "__qualname__", "") == "MediaFetcher._run":
            task.cancel()
    await http.aclose()


async def op_headers(w: World, operator_id: int) -> dict[str, str]:
    response = await w.api.post(
        "/api/operator/get-token", headers=w.acme.key, json={"id": operator_id}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def test_a_persons_message_is_a_chat_as_e3_lists_it(world: World) -> None:
    w = world
    await w.store.link_contact("telegram", w.bot, "+380501230001", "1001")
    answered = await w.person_writes(1001, "Hello <script>alert(1)</script>")
    assert answered.status_code == 200
    # stored before the webhook was answered
    response = await w.api.get("/api/chat/chats", headers=w.acme.key)
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 1
    [item] = body["items"]
    assert set(item) == {
        "id",
        "theme",
        "operator",
        "chatStatus",
        "countUnread",
        "source",
        "client",
        "lastMessageAt",
    }
    assert item["operator"] == {"id": w.acme.operator.id, "name": "Ann", "photo": None}
    assert (item["chatStatus"], item["countUnread"], item["source"]) == (0, 1, 2)
    assert item["client"] == {"name": "Olena", "phone": "+380501230001"}
    messages = await w.api.get(f"/api/chat/{item['id']}/messages", headers=w.acme.key)
    [message] = messages.json()
    assert message["message"] == "Hello <script>alert(1)</script>"  # stored as written
    assert (message["author"], message["status"], message["chatId"]) == (1, 1, item["id"])
    # reading the messages marked the chat read: one more message is one unread
    assert (await w.person_writes(1001, "x")).status_code == 200
    again = await w.api.get("/api/chat/chats", headers=w.acme.key)
    assert again.json()["items"][0]["countUnread"] == 1


async def test_an_operator_answers_and_its_status_follows(world: World, bot_api: BotApi) -> None:
    w = world
    await w.person_writes(1001, "Hi")
    [chat] = (await w.api.get("/api/chat/chats", headers=w.acme.key)).json()["items"]
    headers = await op_headers(w, w.acme.operator.id)
    # as the provider's REST example sends it
    response = await w.api.post(
        f"/api/chat/{chat['id']}/message",
        headers={**headers, "Content-Type": "application/json"},
        content=json.dumps({"textMessage": "Hello from Chathub!", "author": 0}),
    )
    assert response.status_code == 200, response.text
    sent = response.json()
    assert (sent["author"], sent["status"], sent["message"]) == (0, 1, "Hello from Chathub!")
    assert bot_api.sent == [("sendMessage", {"chat_id": "1001", "text": "Hello from Chathub!"})]
    listed = await w.api.get("/api/chat/chats", headers=headers)
    assert listed.json()["items"][0]["chatStatus"] == 1  # the operator took it up: Open
    # the platform refuses: Rejected, and the message is kept
    bot_api.refuse = True
    response = await w.api.post(
        f"/api/chat/{chat['id']}/message", headers=headers, json={"textMessage": "Anyone?"}
    )
    assert response.status_code == 200
    assert response.json()["status"] == 2
    statuses = [
        m["status"]
        for m in (await w.api.get(f"/api/chat/{chat['id']}/messages", headers=headers)).json()
    ]
    assert statuses == [1, 1, 2]


async def test_media_up_and_down(world: World, bot_api: BotApi) -> None:
    w = world
    await w.person_writes(1001, "Hi")
    [chat] = (await w.api.get("/api/chat/chats", headers=w.acme.key)).json()["items"]
    media = {
        "name": "image.jpg",
        "format": "image/jpeg",
        "dataBase64": base64.b64encode(JPEG).decode(),
        "type": 1,
    }
    response = await w.api.post(
        f"/api/chat/{chat['id']}/message",
        headers=w.acme.key,
        json={"textMessage": "Check this image!", "author": 0, "media": media},
    )
    assert response.status_code == 200, response.text
    sent = response.json()
    assert bot_api.sent[-1][0] == "sendPhoto"
    assert (sent["media"]["name"], sent["media"]["format"], sent["media"]["size"]) == (
        "image.jpg",
        "image/jpeg",
        len(JPEG),
    )
    uri = sent["media"]["uri"]
    assert uri.startswith("http://cascade.test/api/chat/")
    path = uri.removeprefix("http://cascade.test")
    served = await w.api.get(path, headers=w.acme.key)
    assert served.status_code == 200
    assert served.content == JPEG
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert_problem(await w.api.get(path), 401)
    # a person's photo: stored at once, its bytes fetched after (getFile, the file)
    photo = [{"file_id": "f1", "file_unique_id": "u1", "width": 1, "height": 1}]
    assert (await w.person_writes(1001, photo=photo, caption="look")).status_code == 200

    async def fetched() -> dict[str, Any] | None:
        found = await w.api.get(f"/api/chat/{chat['id']}/messages", headers=w.acme.key)
        last: dict[str, Any] = found.json()[-1]
        return last if "media" in last else None

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while (last := await fetched()) is None:
        assert loop.time() < deadline, "the person's photo was never fetched"
        await asyncio.sleep(0.02)
    assert last["message"] == "look"
    photo_path = last["media"]["uri"].removeprefix("http://cascade.test")
    assert (await w.api.get(photo_path, headers=w.acme.key)).content == JPEG


async def test_a_failed_media_fetch_is_retried_and_the_message_kept(
    store: SqlStore, clock: ManualClock, bot_api: BotApi
) -> None:
    acme = await company(store, "acme")
    token = "7000000001:test-token"
    bot = await store.add_bot(acme.account.id, "telegram", token, hash_secret(token))
    [arrival] = await store.record_chat_messages(
        [BotChatMessage("telegram", bot, "1001", "9", 0, ChatContent.PHOTO, media=MediaRef("f1"))]
    )
    assert arrival is not None
    bot_api.file_failures = 1
    async with httpx.AsyncClient(transport=httpx.MockTransport(bot_api.handle)) as http:
        hub = Hub(lambda _: _none(), LocalBus(), clock)
        c = Conversations(
            store, hub, {"telegram": TelegramChannel(TG_BASE, http)}, clock, "", SOURCE_OF_CHANNEL
        )
        assert await c.fetcher.fetch_due() == 0  # 502: tried again in 5 s
        [kept] = await store.chat_messages(acme.account.id, arrival.chat.id, 1, 10) or []
        assert kept.media_pending
        assert kept.media_error == "MEDIA_UNAVAILABLE: HTTP 502"
        assert await c.fetcher.fetch_due() == 0  # not due yet
        clock.advance(5)
        assert await c.fetcher.fetch_due() == 1
        [done] = await store.chat_messages(acme.account.id, arrival.chat.id, 1, 10) or []
        assert done.media is not None
        assert done.media.size == len(JPEG)


async def _none() -> None:
    return None


async def test_bad_input_is_refused_clearly(world: World) -> None:
    w = world
    await w.person_writes(1001, "Hi")
    [chat] = (await w.api.get("/api/chat/chats", headers=w.acme.key)).json()["items"]
    post = f"/api/chat/{chat['id']}/message"

    def media(data: str) -> dict[str, Any]:
        return {"textMessage": "", "media": {"name": "a.jpg", "format": "jpg", "dataBase64": data}}

    assert "base64" in assert_problem(
        await w.api.post(post, headers=w.acme.key, json=media("not base64!")),
        400,
        "media.dataBase64",
    )
    big = base64.b64encode(b"\0" * (MAX_MEDIA_BYTES + 1)).decode()
    assert_problem(
        await w.api.post(post, headers=w.acme.key, json=media(big)), 413, "media.dataBase64"
    )
    assert_problem(
        await w.api.post(post, headers=w.acme.key, json={"textMessage": ""}), 400, "textMessage"
    )
    assert_problem(
        await w.api.post(post, headers=w.acme.key, json={"textMessage": "x", "author": 1}),
        400,
        "author",
    )
    assert_problem(
        await w.api.post("/api/chat/999999/message", headers=w.acme.key, json={"textMessage": "x"}),
        404,
        "chatId",
    )
    assert_problem(
        await w.api.post("/api/chat/abc/message", headers=w.acme.key, json={"textMessage": "x"}),
        404,
    )
    for query, where in (
        ("page=0", "page"),
        ("per_page=1000", "per_page"),
        ("source=3", "source"),
        ("status=9", "status"),
        ("date=yesterday", "date"),
        ("date=2026-02-01&date=2026-01-01", "date"),
        ("phone=abc", "phone"),
        ("tg_user_id=x", "tg_user_id"),
        ("organizationId=0", "organizationId"),
    ):
        assert_problem(await w.api.get(f"/api/chat/chats?{query}", headers=w.acme.key), 400, where)
    assert_problem(
        await w.api.put(
            "/api/chat/status", headers=w.acme.key, json={"id": chat["id"], "status": 7}
        ),
        400,
        "status",
    )
    assert_problem(await w.api.get("/api/chat/chats"), 401)


async def test_an_operator_sees_only_its_organizations_chats(world: World) -> None:
    w = world
    await w.person_writes(1001, "Hi")
    [chat] = (await w.api.get("/api/chat/chats", headers=w.acme.key)).json()["items"]
    sales = await w.store.create_organization(w.acme.account.id, "Sales")
    [bob] = await w.store.synchronize_operators(w.acme.account.id, [OperatorSync(sales.id, "Bob")])
    bob_headers = await op_headers(w, bob.id)
    assert (await w.api.get("/api/chat/chats", headers=bob_headers)).json() == {
        "total": 0,
        "items": [],
    }
    chat_id = chat["id"]
    for response in (
        await w.api.get(f"/api/chat/{chat_id}/messages", headers=bob_headers),
        await w.api.post(
            f"/api/chat/{chat_id}/message", headers=bob_headers, json={"textMessage": "x"}
        ),
        await w.api.put("/api/chat/status", headers=bob_headers, json={"id": chat_id, "status": 4}),
        await w.api.delete(f"/api/chat/chats/{chat_id}", headers=bob_headers),
    ):
        assert_problem(response, 404, response.json().get("field"))
    assert_problem(
        await w.api.get(f"/api/chat/chats?organizationId={w.acme.org.id}", headers=bob_headers),
        404,
        "organizationId",
    )
    # another account's key: the same
    other = await company(w.store, "other")
    assert_problem(
        await w.api.get(f"/api/chat/{chat_id}/messages", headers=other.key), 404, "chatId"
    )
    # Ann's own: status, then removal
    ann = await op_headers(w, w.acme.operator.id)
    changed = await w.api.put("/api/chat/status", headers=ann, json={"id": chat_id, "status": 4})
    assert changed.status_code == 200
    assert changed.json()["chatStatus"] == 4
    closed = await w.api.get("/api/chat/chats?status=4&source=2", headers=ann)
    assert [c["id"] for c in closed.json()["items"]] == [chat_id]
    assert (await w.api.delete(f"/api/chat/chats/{chat_id}", headers=ann)).status_code == 204
    assert_problem(await w.api.get(f"/api/chat/{chat_id}/messages", headers=ann), 404, "chatId")


async def test_an_operator_status_change_hands_its_chats_on(world: World) -> None:
    w = world
    [bea] = await w.store.synchronize_operators(
        w.acme.account.id, [OperatorSync(w.acme.org.id, "Bea")]
    )
    await w.person_writes(1001, "one")  # Ann (fewest, lowest id)
    await w.person_writes(1002, "two")  # Bea
    response = await w.api.post(
        "/api/operator/status", headers=w.acme.key, json={"id": w.acme.operator.id, "status": 1}
    )
    assert response.status_code == 200
    everyone = await w.api.get("/api/chat/chats", headers=w.acme.key)
    assert {c["operator"]["id"] for c in everyone.json()["items"]} == {bea.id}
    mine = await w.api.get(f"/api/chat/chats?operatorId={bea.id}", headers=w.acme.key)
    assert mine.json()["total"] == 2


async def test_hub_events_reach_exactly_who_may_see_the_chat(world: World) -> None:
    acme = world.acme
    account = acme.account
    found = await world.store.get_account(account.id)
    assert found is not None

    def principal(kind: TokenKind, orgs: set[int], op: int | None = None) -> ChatHubPrincipal:
        return ChatHubPrincipal(ChatPrincipal(kind, found, op, frozenset(orgs), None))

    company_ = principal(TokenKind.COMPANY, {acme.org.id})
    operator = principal(TokenKind.OPERATOR, {acme.org.id}, 1)
    stranger = principal(TokenKind.OPERATOR, {acme.org.id + 1}, 2)
    ours = Audience(account.id, str(acme.org.id))
    unowned = Audience(account.id, None)
    elsewhere = Audience("another-account", str(acme.org.id))
    assert [p.sees(ours) for p in (company_, operator, stranger)] == [True, True, False]
    assert [p.sees(unowned) for p in (company_, operator, stranger)] == [True, False, False]
    assert [p.sees(elsewhere) for p in (company_, operator, stranger)] == [False, False, False]
