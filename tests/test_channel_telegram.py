"""The Telegram adapter against a mocked Bot API, and its webhook handler, case by case.

The sends and the webhook updates are rows for the channel test runner
(tests/channel_cases.py): a mocked answer, the exact request Cascade must have sent and
the Outcome it must become; an update and the reply and events it must become. Every test
here runs with the network mocked at the transport, so nothing leaves the machine.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import msgspec
import pytest
from msgspec.structs import replace

from cascade.channels.base import Channel, Inbound
from cascade.channels.telegram import (
    ALLOWED_UPDATES,
    LIMITS,
    WEBHOOK_ROUTE,
    TelegramApiError,
    TelegramChannel,
    handle_webhook,
    normalise_phone,
    survey_markup,
)
from cascade.clock import ManualClock
from cascade.domain.content import Content, ContentKind
from cascade.domain.events import (
    BotChatMessage,
    ChatContent,
    ContactLinked,
    ContactState,
    Event,
    GeoPoint,
    MediaRef,
    SharedContact,
    SurveyAnswer,
)
from cascade.domain.sending import (
    Delivered,
    Failed,
    InDoubt,
    Misconfigured,
    Outbound,
    Outcome,
    Retry,
    Sender,
    Throttled,
    Unreachable,
)
from tests import channel_cases as cases
from tests.mock_transport import Exchange, MockApi, channel_on, scripted
from tests.outbound import outbound_to

TOKEN = "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRET = "wh-Secret_0123456789"
SENDER = Sender(id="bot-1", token=TOKEN, webhook_secret=SECRET)
BASE = "https://api.telegram.test"
CHAT = 1000380501234561
SEND_URL = f"{BASE}/bot{TOKEN}/sendMessage"
SET_WEBHOOK_PATH = f"/bot{TOKEN}/setWebhook"
GET_ME_PATH = f"/bot{TOKEN}/getMe"

OUT = outbound_to("+380501234561", SENDER, address=str(CHAT))


def ok_message(message_id: int) -> dict[str, Any]:
    return {
        "ok": True,
        "result": {
            "message_id": message_id,
            "from": {"id": 110201543, "is_bot": True, "first_name": "Shop"},
            "chat": {"id": CHAT, "first_name": "Ann", "type": "private"},
            "date": 1767225600,
            "text": OUT.text,
        },
    }


def error(code: int, description: str, **parameters: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return body


# --- sending -----------------------------------------------------------------------------------

TELEGRAM = cases.HttpBench(
    origin=BASE,
    make=lambda client, **config: TelegramChannel(base_url=BASE, client=client, **config),
    # the token is in every URL; its secret half must be in no log line and no outcome
    secrets=(TOKEN, TOKEN.split(":")[1], SECRET),
    headers={"content-type": "application/json"},
)


@pytest.fixture
async def api() -> AsyncIterator[tuple[MockApi, TelegramChannel]]:
    with scripted(f"/bot{TOKEN}/sendMessage") as mocked:
        async with channel_on(mocked, lambda c: TelegramChannel(base_url=BASE, client=c)) as chan:
            yield mocked, chan


def respond(status: int, body: dict[str, Any] | bytes, **headers: str) -> httpx.Response:
    if isinstance(body, bytes):
        return httpx.Response(status, content=body, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


def send(
    label: str,
    answer: httpx.Response | Exception | None,  # None: no request may be made at all
    expected: Outcome,
    out: Outbound = OUT,
    body: dict[str, Any] | None = None,  # default: chat_id and text of `out`
) -> cases.HttpCase:
    calls = []
    if answer is not None:
        body = body or {"chat_id": out.address, "text": out.text}
        calls.append(cases.Call(answer, "POST", f"/bot{TOKEN}/sendMessage", body=body))
    return cases.SendCase(label, out, calls, expected)


SURVEY = replace(
    OUT, message_type="viber_survey", content=Content(text="Happy?", survey=("Yes", "No"))
)

SEND_CASES = [
    send("accepted", respond(200, ok_message(42)), Delivered("42")),
    send(
        "survey as inline keyboard",
        respond(200, ok_message(43)),
        Delivered("43"),
        out=SURVEY,
        body={
            "chat_id": str(CHAT),
            "text": "Happy?",
            "reply_markup": {
                "inline_keyboard": [
                    [{"text": "Yes", "callback_data": f"sv:0:{OUT.message_id}"}],
                    [{"text": "No", "callback_data": f"sv:1:{OUT.message_id}"}],
                ]
            },
        },
    ),
    send("2xx with unreadable body", respond(200, b"<html>"), Delivered("")),
    send(
        "blocked by the user",
        respond(403, error(403, "Forbidden: bot was blocked by the user")),
        Unreachable("BLOCKED", blocked=True),
    ),
    send(
        "user deactivated",
        respond(403, error(403, "Forbidden: user is deactivated")),
        Unreachable("BLOCKED", blocked=True),
    ),
    send(
        "never started the bot",
        respond(403, error(403, "Forbidden: bot can't initiate conversation with a user")),
        Unreachable("NO_CHAT"),
    ),
    send(
        "chat not found",
        respond(400, error(400, "Bad Request: chat not found")),
        Unreachable("NO_CHAT"),
    ),
    send(
        "other bad request",
        respond(400, error(400, "Bad Request: message is too long")),
        Failed("REJECTED: Bad Request: message is too long"),
    ),
    send("revoked token", respond(401, error(401, "Unauthorized")), Misconfigured("INVALID_TOKEN")),
    send("malformed token", respond(404, error(404, "Not Found")), Misconfigured("INVALID_TOKEN")),
    send(
        "flood control",
        respond(429, error(429, "Too Many Requests: retry after 17", retry_after=17)),
        Throttled(17.0),
    ),
    send("flood control, header only", respond(429, b"", **{"Retry-After": "5"}), Throttled(5.0)),
    send("server error", respond(500, error(500, "Internal Server Error")), Retry("HTTP_500")),
    send("proxy error page", respond(502, b"<html>Bad Gateway</html>"), Retry("HTTP_502")),
    # the request may have been acted on: never repeated
    send("read timeout", httpx.ReadTimeout("timed out"), InDoubt("NO_ANSWER:ReadTimeout")),
    # the request cannot have left: safe to repeat
    send("connect timeout", httpx.ConnectTimeout("timed out"), Retry("NETWORK:ConnectTimeout")),
    send("connection refused", httpx.ConnectError("refused"), Retry("NETWORK:ConnectError")),
    send(
        "connection dropped",
        httpx.RemoteProtocolError("peer closed"),
        InDoubt("NO_ANSWER:RemoteProtocolError"),
    ),
    send("no chat known", None, Unreachable("NO_CHAT"), out=replace(OUT, address="")),
    send(
        "no token",
        None,
        Misconfigured("INVALID_TOKEN"),
        out=replace(OUT, sender=Sender(id="bot-1", token="")),
    ),
]


@pytest.mark.parametrize("case", SEND_CASES, ids=cases.ids)
async def test_send(case: cases.HttpCase) -> None:
    await cases.run_send(TELEGRAM, case)


async def test_httpx_request_log_is_redacted(
    api: tuple[MockApi, TelegramChannel], caplog: pytest.LogCaptureFixture
) -> None:
    mocked, channel = api
    caplog.set_level(logging.DEBUG)
    mocked.expect(Exchange(respond(200, ok_message(1))))
    await channel.send(OUT)
    httpx_lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert any("/bot<redacted>/sendMessage" in line for line in httpx_lines)
    assert TOKEN not in caplog.text


def test_channel_protocol_and_limits() -> None:
    channel: Channel = TelegramChannel(base_url=BASE)
    assert channel.name == "telegram"
    assert channel.limits is LIMITS
    assert LIMITS.max_text == 4096
    assert LIMITS.per_sender_per_second == 30
    assert LIMITS.per_recipient_per_second == 1
    assert LIMITS.confirms_delivery is False
    assert ContentKind.SURVEY in LIMITS.carries
    assert WEBHOOK_ROUTE.channel == "telegram"


async def test_own_client_is_closed() -> None:
    channel = TelegramChannel(base_url=BASE)
    client = channel._client
    await channel.aclose()
    assert client.is_closed


async def test_set_webhook(api: tuple[MockApi, TelegramChannel]) -> None:
    mocked, channel = api
    answer = respond(200, {"ok": True, "result": True, "description": "Webhook was set"})
    mocked.expect(Exchange(answer, path=SET_WEBHOOK_PATH))

    await channel.set_webhook(SENDER, "https://cascade.test/webhooks/telegram/bot-1")

    [request] = mocked.requests
    assert str(request.url) == f"{BASE}/bot{TOKEN}/setWebhook"
    assert msgspec.json.decode(request.content) == {
        "url": "https://cascade.test/webhooks/telegram/bot-1",
        "secret_token": SECRET,
        "allowed_updates": ["message", "my_chat_member", "callback_query"],
    }
    assert list(ALLOWED_UPDATES) == ["message", "my_chat_member", "callback_query"]


async def test_set_webhook_failure_raises_without_token(
    api: tuple[MockApi, TelegramChannel],
) -> None:
    mocked, channel = api
    answer = respond(400, error(400, "Bad Request: bad webhook: An HTTPS URL must be provided"))
    mocked.expect(Exchange(answer, path=SET_WEBHOOK_PATH))
    with pytest.raises(TelegramApiError) as caught:
        await channel.set_webhook(SENDER, "http://insecure.test/hook")
    assert caught.value.status == 400
    assert "HTTPS URL must be provided" in caught.value.description
    assert TOKEN not in str(caught.value)


async def test_set_webhook_network_error(api: tuple[MockApi, TelegramChannel]) -> None:
    mocked, channel = api
    mocked.expect(Exchange(httpx.ConnectError(f"cannot reach {SEND_URL}"), SET_WEBHOOK_PATH))
    with pytest.raises(TelegramApiError) as caught:
        await channel.set_webhook(SENDER, "https://cascade.test/hook")
    assert caught.value.status == 0
    assert TOKEN not in str(caught.value)


async def test_get_me(api: tuple[MockApi, TelegramChannel]) -> None:
    mocked, channel = api
    me = {"id": 110201543, "is_bot": True, "first_name": "Shop", "username": "shop_bot"}
    mocked.expect(
        Exchange(respond(200, {"ok": True, "result": me}), path=GET_ME_PATH),
        Exchange(respond(401, error(401, "Unauthorized")), path=GET_ME_PATH),
    )

    assert await channel.get_me(SENDER) == me
    with pytest.raises(TelegramApiError) as caught:
        await channel.get_me(SENDER)
    assert caught.value.status == 401
    assert [str(r.url) for r in mocked.requests] == [f"{BASE}/bot{TOKEN}/getMe"] * 2


# --- the webhook -----------------------------------------------------------------------------

USER = {"id": CHAT, "is_bot": False, "first_name": "Ann", "language_code": "en"}
PRIVATE = {"id": CHAT, "first_name": "Ann", "type": "private"}
BOT = {"id": 110201543, "is_bot": True, "first_name": "Shop"}
GOOD = {"x-telegram-bot-api-secret-token": SECRET, "content-type": "application/json"}


def message(**content: Any) -> dict[str, Any]:
    return {
        "update_id": 900,
        "message": {"message_id": 7, "from": USER, "chat": PRIVATE, "date": 1767225601, **content},
    }


def member(old: str, new: str, chat: dict[str, Any] = PRIVATE) -> dict[str, Any]:
    return {
        "update_id": 901,
        "my_chat_member": {
            "chat": chat,
            "from": USER,
            "date": 1767225602,
            "old_chat_member": {"status": old, "user": BOT},
            "new_chat_member": {"status": new, "user": BOT},
        },
    }


SURVEY_MESSAGE = {
    "message_id": 5,
    "from": BOT,
    "chat": PRIVATE,
    "date": 1767225500,
    "text": "Happy?",
    "reply_markup": survey_markup(("Yes", "No"), OUT.message_id),
}

START_REPLY = {
    "method": "sendMessage",
    "chat_id": CHAT,
    "text": "Share your phone number to receive your messages here.",
    "reply_markup": {
        "keyboard": [[{"text": "Share my phone number", "request_contact": True}]],
        "one_time_keyboard": True,
        "resize_keyboard": True,
    },
}


def replace_name(line: BotChatMessage, name: str) -> BotChatMessage:
    return dataclasses.replace(line, name=name)


def hook(
    label: str,
    body: dict[str, Any] | list[Any] | bytes,
    status: int = 200,
    events: tuple[Event, ...] = (),
    reply: dict[str, Any] | None = None,  # the method call in the response body, if any
    headers: dict[str, str] | None = None,
    sender: Sender = SENDER,
) -> cases.HookCase:
    raw = body if isinstance(body, bytes) else msgspec.json.encode(body)
    inbound = Inbound(sender=sender, headers=GOOD if headers is None else headers, body=raw)
    return cases.HookCase(label, inbound, status, events, b"" if reply is None else reply)


THANKS = {
    "method": "sendMessage",
    "chat_id": CHAT,
    "text": "Thank you! Your messages will arrive in this chat.",
    "reply_markup": {"remove_keyboard": True},
}
LINKED = ContactLinked(
    channel="telegram", sender_id="bot-1", phone="+380501234561", address=str(CHAT)
)


def chat(content: ChatContent, text: str = "", **fields: Any) -> BotChatMessage:
    """The chat line `message(...)` becomes: message 7 in Ann's chat, at its date."""
    return BotChatMessage(
        channel="telegram",
        sender_id="bot-1",
        address=str(CHAT),
        provider_id="7",
        at_ms=1_767_225_601_000,
        content=content,
        text=text,
        name="Ann",
        **fields,
    )


# Update shapes as the Bot API sends them (https://core.telegram.org/bots/api#message):
# a photo comes in several sizes, smallest first; voice notes are OGG/Opus.
PHOTO_SIZES = [
    {
        "file_id": "AgACAgIAAxk-s",
        "file_unique_id": "AQADs",
        "file_size": 1310,
        "width": 90,
        "height": 67,
    },
    {
        "file_id": "AgACAgIAAxk-m",
        "file_unique_id": "AQADm",
        "file_size": 17032,
        "width": 320,
        "height": 240,
    },
    {
        "file_id": "AgACAgIAAxk-x",
        "file_unique_id": "AQADx",
        "file_size": 85412,
        "width": 1280,
        "height": 960,
    },
]
DOCUMENT = {
    "file_name": "invoice.pdf",
    "mime_type": "application/pdf",
    "file_id": "BQACAgIAAxk-d",
    "file_unique_id": "AgADd",
    "file_size": 48213,
}
VOICE = {
    "duration": 3,
    "mime_type": "audio/ogg",
    "file_id": "AwACAgIAAxk-v",
    "file_unique_id": "AgADv",
    "file_size": 9120,
}
VOICE_NO_MIME = {"duration": 1, "file_id": "AwACAgIAAxk-w", "file_unique_id": "AgADw"}
VIDEO = {
    "duration": 4,
    "width": 640,
    "height": 360,
    "file_name": "clip.mp4",
    "mime_type": "video/mp4",
    "file_id": "BAACAgIAAxk-c",
    "file_unique_id": "AgADc",
    "file_size": 420311,
}

CHAT_CASES = [
    hook("plain text", message(text="hello"), events=(chat(ChatContent.TEXT, "hello"),)),
    hook(
        "another command is a chat line",
        message(text="/help", entities=[{"offset": 0, "length": 5, "type": "bot_command"}]),
        events=(chat(ChatContent.TEXT, "/help"),),
    ),
    hook(
        "text reply matching no option",
        message(text="maybe", reply_to_message=SURVEY_MESSAGE),
        events=(chat(ChatContent.TEXT, "maybe"),),
    ),
    hook(
        "photo: the largest size, with its caption",
        message(photo=PHOTO_SIZES, caption="my receipt"),
        events=(
            chat(
                ChatContent.PHOTO,
                "my receipt",
                media=MediaRef("AgACAgIAAxk-x", mime="image/jpeg", size=85412),
            ),
        ),
    ),
    hook(
        "photo sizes in any order",
        message(photo=[PHOTO_SIZES[2], PHOTO_SIZES[0]]),
        events=(
            chat(ChatContent.PHOTO, media=MediaRef("AgACAgIAAxk-x", mime="image/jpeg", size=85412)),
        ),
    ),
    hook(
        "document",
        message(document=DOCUMENT),
        events=(
            chat(
                ChatContent.DOCUMENT,
                media=MediaRef("BQACAgIAAxk-d", "invoice.pdf", "application/pdf", 48213),
            ),
        ),
    ),
    hook(
        "voice",
        message(voice=VOICE),
        events=(chat(ChatContent.VOICE, media=MediaRef("AwACAgIAAxk-v", None, "audio/ogg", 9120)),),
    ),
    hook(
        "voice without a type is OGG",
        message(voice=VOICE_NO_MIME),
        events=(chat(ChatContent.VOICE, media=MediaRef("AwACAgIAAxk-w", None, "audio/ogg")),),
    ),
    hook(
        "video",
        message(video=VIDEO, caption="look"),
        events=(
            chat(
                ChatContent.VIDEO,
                "look",
                media=MediaRef("BAACAgIAAxk-c", "clip.mp4", "video/mp4", 420311),
            ),
        ),
    ),
    hook(
        "location",
        message(location={"latitude": 50.450001, "longitude": 30.523333}),
        events=(chat(ChatContent.LOCATION, location=GeoPoint(50.450001, 30.523333)),),
    ),
    hook(
        "someone else's contact",
        message(
            contact={
                "phone_number": "380501234562",
                "first_name": "Bob",
                "last_name": "Smith",
                "user_id": 77,
            }
        ),
        events=(chat(ChatContent.CONTACT, contact=SharedContact("+380501234562", "Bob Smith")),),
    ),
    hook(
        "contact with no Telegram account",
        message(contact={"phone_number": "380501234562", "first_name": "Bob"}),
        events=(chat(ChatContent.CONTACT, contact=SharedContact("+380501234562", "Bob")),),
    ),
    hook(
        "someone's contact with an odd number keeps it as given",
        message(contact={"phone_number": "112", "first_name": "Help"}),
        events=(chat(ChatContent.CONTACT, contact=SharedContact("112", "Help")),),
    ),
    hook(
        "the person's full name",
        message(text="hi", **{"from": {**USER, "last_name": "Lee"}}),
        events=(replace_name(chat(ChatContent.TEXT, "hi"), "Ann Lee"),),
    ),
    hook("sticker: not carried by chats", message(sticker={"file_id": "CAAC", "width": 512})),
    hook(
        "a bot's message is no chat line",
        message(text="beep", **{"from": BOT}),
    ),
    hook(
        "group chat is no chat line",
        message(text="hi all", chat={"id": -100123, "title": "Team", "type": "supergroup"}),
    ),
]

HOOK_CASES = [
    hook(
        "wrong secret",
        message(text="/start"),
        status=401,
        headers={"x-telegram-bot-api-secret-token": "guess"},
    ),
    hook("no secret header", message(text="/start"), status=401, headers={}),
    hook(
        "sender without a secret accepts nothing",
        message(text="/start"),
        status=401,
        headers={"x-telegram-bot-api-secret-token": ""},
        sender=Sender(id="bot-1", token=TOKEN),
    ),
    hook(
        "non-ascii secret header",
        message(text="/start"),
        status=401,
        headers={"x-telegram-bot-api-secret-token": "sécret"},
    ),
    hook("/start", message(text="/start"), reply=START_REPLY),
    hook("/start with a payload", message(text="/start promo-7"), reply=START_REPLY),
    hook(
        "own contact",
        message(contact={"phone_number": "380501234561", "first_name": "Ann", "user_id": CHAT}),
        events=(LINKED,),
        reply=THANKS,
    ),
    hook(
        "own contact with + and spaces",
        message(contact={"phone_number": "+380 50 123 4561", "user_id": CHAT}),
        events=(LINKED,),
        reply=THANKS,
    ),
    hook(
        "own contact, impossible number",
        message(contact={"phone_number": "12", "user_id": CHAT}),
    ),
    hook(
        "kicked (blocked the bot)",
        member("member", "kicked"),
        events=(ContactState("telegram", "bot-1", str(CHAT), reachable=False),),
    ),
    hook(
        "member again (unblocked)",
        member("kicked", "member"),
        events=(ContactState("telegram", "bot-1", str(CHAT), reachable=True),),
    ),
    hook("left", member("member", "left")),
    hook(
        "bot added to a group",
        member("left", "member", chat={"id": -100123, "title": "Team", "type": "supergroup"}),
    ),
    hook(
        "survey button pressed",
        {
            "update_id": 902,
            "callback_query": {
                "id": "4382bfdwdsb323b2d9",
                "from": USER,
                "message": SURVEY_MESSAGE,
                "chat_instance": "-1",
                "data": f"sv:1:{OUT.message_id}",
            },
        },
        events=(
            SurveyAnswer(
                "telegram", "bot-1", str(CHAT), "No", OUT.message_id, at_ms=1_767_225_600_000
            ),
        ),
        reply={"method": "answerCallbackQuery", "callback_query_id": "4382bfdwdsb323b2d9"},
    ),
    hook(
        "foreign button pressed",
        {
            "update_id": 903,
            "callback_query": {"id": "q2", "from": USER, "message": SURVEY_MESSAGE, "data": "x"},
        },
        reply={"method": "answerCallbackQuery", "callback_query_id": "q2"},
    ),
    hook(
        "survey answered by a text reply",
        message(text="yes", reply_to_message=SURVEY_MESSAGE),
        events=(
            SurveyAnswer(
                "telegram", "bot-1", str(CHAT), "Yes", OUT.message_id, at_ms=1767225601000
            ),
        ),
    ),
    hook("edited message", {"update_id": 904, "edited_message": {"message_id": 1}}),
    hook("not json", b"{not json", status=400),
    hook("json array", [1, 2], status=400),
    hook("update_id of the wrong type", {"update_id": "x"}, status=400),
    hook("message without chat", {"update_id": 905, "message": {"message_id": 1}}, status=400),
    hook(
        "photo without file_id",
        message(photo=[{"width": 90, "height": 67}]),
        status=400,
    ),
    hook("location without longitude", message(location={"latitude": 1.0}), status=400),
    *CHAT_CASES,
]


@pytest.mark.parametrize("case", HOOK_CASES, ids=cases.ids)
async def test_webhook(case: cases.HookCase) -> None:
    await cases.run_hook(
        lambda inbound: handle_webhook(inbound, clock=ManualClock()), case, TELEGRAM.secrets
    )


async def test_webhook_route_serves_the_handler() -> None:
    inbound = Inbound(
        sender=SENDER, headers=GOOD, body=msgspec.json.encode(member("member", "kicked"))
    )
    reply = await WEBHOOK_ROUTE.handler(inbound)
    assert reply.events == (ContactState("telegram", "bot-1", str(CHAT), reachable=False),)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("380501234567", "+380501234567"),
        ("+380501234567", "+380501234567"),
        ("+1 (202) 555-0143", "+12025550143"),
        ("0501234567", None),
        ("123", None),
        ("", None),
    ],
)
def test_normalise_phone(raw: str, expected: str | None) -> None:
    assert normalise_phone(raw) == expected


def test_survey_callback_data_fits_telegram_limit() -> None:
    long_id = "m" * 80
    markup = survey_markup(("A", "B"), long_id)
    data: Callable[[int], str] = lambda i: markup["inline_keyboard"][i][0]["callback_data"]  # noqa: E731
    assert data(0) == "sv:0:"
    assert all(len(data(i).encode()) <= 64 for i in range(2))
