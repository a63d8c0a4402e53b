"""The core SMSBAT API (SPEC D1, D3-D8, in process, both databases): a message list's
every type and spelling, partial acceptance, the D6 error bodies, idempotency, status,
the message-list page, the shared rate-limit buckets, and the status webhooks' shape."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import sqlalchemy as sa

from cascade.bootstrap import build_app, content_pattern
from cascade.channels.flashcall import FlashCallChannel
from cascade.channels.flashcall.spec import SPEC as FLASHCALL
from cascade.clock import ManualClock
from cascade.domain.content import Content
from cascade.domain.sending import Sender
from cascade.engine.worker import Worker, WorkerConfig
from cascade.store import schema as t
from cascade.store.sql import SqlStore
from tests.conftest import TestAccount, make_account
from tests.conftest import test_settings as app_settings

LIST = "/bat/messagelist"
MESSAGE = "/bat/message"


def sms(to: str = "+380501234567", **changes: object) -> dict[str, Any]:
    message: dict[str, Any] = {"from": "Shop", "to": to, "type": "sms", "text": "Hello"}
    message.update(changes)
    return message


async def post(
    client: httpx.AsyncClient, account: TestAccount, messages: list[Any], **headers: str
) -> httpx.Response:
    return await client.post(
        LIST, json={"messages": messages}, headers={**account.headers, **headers}
    )


async def accepted(
    client: httpx.AsyncClient, account: TestAccount, messages: list[Any]
) -> dict[str, Any]:
    response = await post(client, account, messages)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert isinstance(body["messagelistId"], int)
    return body


async def stored(store: SqlStore) -> int:
    async with store._reader.connect() as conn:
        return int(
            (await conn.execute(sa.select(sa.func.count()).select_from(t.messages))).scalar_one()
        )


def assert_d6(
    response: httpx.Response, status: int, code: int | None, field: str | None = None
) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status
    assert isinstance(body["error"], str)
    assert body["error"]
    assert isinstance(body["message"], str)
    assert body["message"]
    assert body.get("code") == code
    if field is not None:
        assert body["field"] == field


async def test_one_sms(client: httpx.AsyncClient, store: SqlStore, account: TestAccount) -> None:
    body = await accepted(client, account, [sms(customerMessageId="c-1")])
    [item] = body["messages"]
    assert item["status"] == "accepted"
    assert item["parts"] == 1
    assert item["customerMessageId"] == "c-1"
    assert item["to"] == "+380501234567"
    assert await stored(store) == 1


async def test_every_type_the_channels_carry_today(
    client: httpx.AsyncClient, account: TestAccount
) -> None:
    messages = [
        sms(),
        sms(type="viber_trans", text="Your order shipped"),
        sms(type="flashcall", text=None, messageData={"callerId": "+380441234567"}),
        sms(recipient="380501234568", to=None, ttl="90", sheduledSent="2026-01-01T00:00:05"),
    ]
    body = await accepted(
        client, account, [{k: v for k, v in m.items() if v is not None} for m in messages]
    )
    assert [m["status"] for m in body["messages"]] == ["accepted"] * 4
    assert body["messages"][3]["to"] == "+380501234568"


async def test_parts_of_a_long_sms(client: httpx.AsyncClient, account: TestAccount) -> None:
    body = await accepted(client, account, [sms(text="x" * 161), sms(text="ї" * 71)])
    assert [m["parts"] for m in body["messages"]] == [2, 2]


async def test_partial_acceptance(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    body = await accepted(
        client, account, [sms(), sms(to="12345"), sms(type="pigeon"), sms(ttl=True)]
    )
    ok, phone, kind, shape = body["messages"]
    assert ok["status"] == "accepted"
    assert (phone["status"], phone["error"]["code"], phone["error"]["field"]) == (
        "rejected",
        1003,
        "messages[1].to",
    )
    assert phone["messageId"] is None
    assert (kind["error"]["code"], kind["error"]["field"]) == (1004, "messages[2].type")
    assert (shape["error"]["code"], shape["error"]["field"]) == (1001, "messages[3].ttl")
    assert await stored(store) == 1


async def test_none_valid_is_422_with_the_first(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    response = await post(client, account, [sms(to="abc"), sms(type="pigeon")])
    assert_d6(response, 422, 1003, "messages[0].to")
    assert await stored(store) == 0


async def test_none_valid_and_malformed_is_400(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    response = await post(client, account, [sms(text=5), sms(to="abc")])
    assert_d6(response, 400, 1001, "messages[0].text")
    assert await stored(store) == 0


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (b"{not json", 1001, None),
        (b"[]", 1001, None),
        (b"{}", 1002, "messages"),
        (b'{"messages": []}', 1002, "messages"),
        (b'{"messages": 5}', 1001, "messages"),
    ],
)
async def test_bad_request_shapes(
    client: httpx.AsyncClient, account: TestAccount, body: bytes, code: int, field: str | None
) -> None:
    response = await client.post(LIST, content=body, headers=account.headers)
    assert_d6(response, 400, code, field)


async def test_too_many_messages(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    response = await post(client, account, [sms()] * 5001)
    assert_d6(response, 400, 1009, "messages")
    assert await stored(store) == 0


async def test_not_json_content_type(client: httpx.AsyncClient, account: TestAccount) -> None:
    response = await client.post(
        LIST, content=b'{"messages": []}', headers={**account.headers, "Content-Type": "text/plain"}
    )
    assert_d6(response, 415, None)


async def test_customer_message_id_is_idempotent(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    first = await accepted(client, account, [sms(customerMessageId="order-1")])
    again = await accepted(client, account, [sms(customerMessageId="order-1")])
    assert again["messages"][0]["messageId"] == first["messages"][0]["messageId"]
    assert again["messagelistId"] != first["messagelistId"]
    assert await stored(store) == 1
    other = await post(client, account, [sms(customerMessageId="order-1", text="Other")])
    assert_d6(other, 422, 1008, "messages[0].customerMessageId")
    mixed = await accepted(
        client,
        account,
        [sms(customerMessageId="order-1", text="Other"), sms(customerMessageId="order-2")],
    )
    assert mixed["messages"][0]["error"]["code"] == 1008
    assert mixed["messages"][1]["status"] == "accepted"
    assert await stored(store) == 2


async def test_customer_message_id_reused_within_a_list(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    body = await accepted(
        client,
        account,
        [
            sms(customerMessageId="a"),
            sms(customerMessageId="a"),
            sms(customerMessageId="a", text="B"),
        ],
    )
    same, repeat, other = body["messages"]
    assert repeat["messageId"] == same["messageId"]
    assert (other["status"], other["error"]["code"]) == ("rejected", 1008)
    assert await stored(store) == 1


async def test_messages_without_customer_id_are_each_their_own(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    first = await accepted(client, account, [sms(), sms()])
    second = await accepted(client, account, [sms()])
    ids = {m["messageId"] for m in first["messages"] + second["messages"]}
    assert len(ids) == 3
    assert await stored(store) == 3


async def test_status(client: httpx.AsyncClient, account: TestAccount) -> None:
    body = await accepted(
        client,
        account,
        [
            sms(
                type="viber_trans",
                customerMessageId="s-1",
                fallback={"type": "sms", "text": "By SMS"},
            )
        ],
    )
    message_id = body["messages"][0]["messageId"]
    response = await client.get(f"{MESSAGE}/{message_id}", headers=account.headers)
    assert response.status_code == 200, response.text
    status = response.json()
    assert status["messageId"] == message_id
    assert status["messagelistId"] == body["messagelistId"]
    assert status["customerMessageId"] == "s-1"
    assert status["to"] == "+380501234567"
    assert status["deliverystatus"] == "scheduled"
    assert status["seen"] is False
    assert status["type"] == "viber_trans"
    assert status["fallbacks"] == [{"type": "sms", "status": "not_used"}]
    assert status["extendedStatuses"] == {"viber": "not_used", "sms": "not_used"}
    assert status["partscount"] == 1
    assert status["cost"] is None
    assert status["currency"] is None


async def test_status_of_another_accounts_message(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    body = await accepted(client, account, [sms()])
    other = await make_account(store, "other")
    message_id = body["messages"][0]["messageId"]
    assert_d6(await client.get(f"{MESSAGE}/{message_id}", headers=other.headers), 404, None)
    assert_d6(await client.get(f"{MESSAGE}/nope", headers=account.headers), 404, None)
    listed = f"{LIST}/{body['messagelistId']}"
    assert_d6(await client.get(listed, headers=other.headers), 404, None)


async def test_message_list_pages(client: httpx.AsyncClient, account: TestAccount) -> None:
    body = await accepted(client, account, [sms(to=f"+38050123456{n}") for n in range(5)])
    ids = {m["messageId"] for m in body["messages"]}
    seen: set[str] = set()
    for page in (1, 2, 3):
        response = await client.get(
            f"{LIST}/{body['messagelistId']}?page={page}&per_page=2", headers=account.headers
        )
        assert response.status_code == 200, response.text
        listed = response.json()
        assert listed["total"] == 5
        assert len(listed["messages"]) == (2 if page < 3 else 1)
        seen |= {m["messageId"] for m in listed["messages"]}
    assert seen == ids
    bad = await client.get(f"{LIST}/{body['messagelistId']}?per_page=0", headers=account.headers)
    assert_d6(bad, 400, 1001, "per_page")


async def test_basic_with_at_and_the_key(client: httpx.AsyncClient, account: TestAccount) -> None:
    token = base64.b64encode(f"@:{account.key}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}
    response = await client.post(LIST, json={"messages": [sms()]}, headers=headers)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic !!!"},
        {"Authorization": "Bearer x"},
        {"X-Authorization-Key": "wrong"},
    ],
)
async def test_unauthorized(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    response = await client.post(
        LIST, json={"messages": [sms()]}, headers={**headers, "Content-Type": "application/json"}
    )
    assert_d6(response, 401, None)


async def test_rate_limit_body_and_shared_bucket(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    await store.set_account_limits(account.id, send=(1.0, 1))
    first = await client.post(
        "/api/CascadeMessage/send_message/async",
        json={"messages": [{"recipient": "+380501234567", "text": "Hi"}]},
        headers=account.headers,
    )
    assert first.status_code == 200, first.text
    response = await post(client, account, [sms()])  # the Cascade API drew the one token
    assert response.status_code == 429
    assert response.json() == {
        "error": "Too Many Requests",
        "message": "Rate limit exceeded. Please wait before sending more requests.",
        "status": 429,
    }
    assert int(response.headers["Retry-After"]) >= 1


async def test_body_over_the_limit(
    store: SqlStore, clock: ManualClock, db_url: str, account: TestAccount
) -> None:
    app = build_app(app_settings(db_url, max_body_bytes=1024), clock=clock, store=store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cascade.test") as c:
        response = await post(c, account, [sms(text="x" * 2000)])
    assert_d6(response, 413, None)
    assert await stored(store) == 0


# --- a flash call's pattern (D3) --------------------------------------------------------------


async def test_flash_call_pattern_in_the_answer_and_once_called_in_the_status(
    client: httpx.AsyncClient, store: SqlStore, clock: ManualClock, account: TestAccount
) -> None:
    flash: dict[str, Any] = {"from": "App", "to": "+380501234569", "type": "flashcall"}
    body = await accepted(
        client,
        account,
        [
            {**flash, "messageData": {"callerId": "+380441234567"}},
            {**flash, "messageData": {"callerId": 380442223344}},  # a number, no "+"
            flash,  # no callerId: the code is drawn when the call is placed
            sms(),
        ],
    )
    given, as_number, drawn, text = body["messages"]
    # the code is the callerId's last 4 digits (the default code length)
    assert (given["pattern"], as_number["pattern"]) == ("***4567", "***3344")
    assert "pattern" not in drawn
    assert "pattern" not in text
    ids = [m["messageId"] for m in body["messages"]]

    async def status(message_id: str) -> dict[str, Any]:
        response = await client.get(f"{MESSAGE}/{message_id}", headers=account.headers)
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    assert ["pattern" in await status(m) for m in ids] == [False] * 4  # nothing placed yet

    callers: dict[str, str] = {}  # To -> From, as Twilio was asked

    def twilio(request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        callers[form["To"]] = form["From"]
        return httpx.Response(201, json={"sid": f"CA{len(callers):032d}", "status": "queued"})

    http = httpx.AsyncClient(transport=httpx.MockTransport(twilio))
    channel = FlashCallChannel(
        account_sid="AC" + "1" * 32,
        auth_token="twilio-token",
        caller_prefix="+44207946",
        status_callback_url_base="http://cascade.test",
        base_url="https://twilio.test",
        client=http,
    )
    worker = Worker(
        store,
        clock,
        {"flashcall": channel},
        {},
        WorkerConfig(batch=50, enforce_rates=False),
        owner="test-worker",
        static_senders={"flashcall": Sender("flashcall", "twilio-token")},
    )
    try:
        for _ in range(10):
            if await worker.run_once() == 0:
                break
    finally:
        await http.aclose()
    assert len(callers) == 1  # one recipient: three calls, the last one's From kept
    shown = [await status(m) for m in ids[:3]]
    assert [s["deliverystatus"] for s in shown] == ["processing"] * 3  # ringing
    assert (shown[0]["pattern"], shown[1]["pattern"]) == ("***4567", "***3344")
    # a drawn code: the block's number, its last six digits shown
    assert shown[2]["pattern"].startswith("***")
    assert len(shown[2]["pattern"]) == 9
    assert "pattern" not in await status(ids[3])


def test_the_pattern_follows_the_code_length_setting(db_url: str) -> None:
    settings = app_settings(db_url)
    six = settings.with_channel(FLASHCALL, flashcall_code_length=6)
    call = Content(caller_id="+380441234567")
    assert content_pattern(settings)("flashcall", call) == "***4567"
    assert content_pattern(six)("flashcall", call) == "***234567"
    assert content_pattern(six)("flashcall", Content()) is None
    assert content_pattern(six)("sms", Content(text="Hi", caller_id="+380441234567")) is None
