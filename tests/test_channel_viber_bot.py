"""The Viber bot adapter against a mocked transport, and its webhook, table-driven.

Sends and callbacks are rows for the channel test runner (tests/channel_cases.py); the
other tests that talk to "Viber" declare the exchanges they expect (tests/mock_transport.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import msgspec
import pytest

from cascade.channels.base import Channel, Inbound
from cascade.channels.viber_bot import (
    LIMITS,
    STATUS_NAMES,
    WEBHOOK_ROUTE,
    ViberApiError,
    ViberBotChannel,
    handle_webhook,
    signature,
)
from cascade.domain.content import ContentKind
from cascade.domain.events import (
    BotChatMessage,
    ChatContent,
    ChatMessageStatus,
    ContactLinked,
    ContactState,
    DeliveryReport,
    Event,
    GeoPoint,
    MediaRef,
    SharedContact,
    SurveyAnswer,
)
from cascade.domain.sending import (
    Failed,
    InDoubt,
    Misconfigured,
    Outbound,
    Outcome,
    Retry,
    Sender,
    Sent,
    Throttled,
    Unreachable,
)
from tests import channel_cases as cases
from tests.mock_transport import TRANSPORT_FAULTS, Exchange, MockApi, channel_on, scripted
from tests.outbound import outbound_to

TOKEN = "4453b6ac12345678-e02c5f12174805f9-daec9cbb5448c51f"
BASE = "https://viber.test"
SENDER = Sender(id="bot-1", token=TOKEN)
USER = "01234567890A="
MESSAGE_TOKEN = 5741311803571721087

# --- the runner ----------------------------------------------------------------------------


@pytest.fixture
def viber() -> Iterator[MockApi]:
    with scripted("/pa/send_message") as api:
        yield api


@pytest.fixture
async def channel(viber: MockApi) -> AsyncIterator[ViberBotChannel]:
    async with channel_on(viber, lambda c: ViberBotChannel(base_url=BASE, client=c)) as channel:
        yield channel


def answer(status: int, **extra: Any) -> httpx.Response:
    body = {"status": status, "status_message": STATUS_NAMES.get(status, "error"), **extra}
    if status == 0:
        body.setdefault("message_token", MESSAGE_TOKEN)
        body.setdefault("chat_hostname", "SN-CHAT-05_")
    return httpx.Response(200, json=body)


def outbound(
    address: str = USER,
    *,
    text: str = "Your order #12345 has been confirmed",
    message_type: str = "transaction",
    options: tuple[str, ...] = (),
    from_name: str = "YourStore",
) -> Outbound:
    return outbound_to(
        "+380501234562",
        SENDER,
        address=address,
        text=text,
        from_name=from_name,
        message_type=message_type,
        survey_options=options,
    )


# --- what the channel is -----------------------------------------------------------------


def test_channel_declares_its_limits_and_route() -> None:
    channel: Channel = ViberBotChannel()
    assert channel.name == "viber_bot"
    assert channel.limits == LIMITS
    assert LIMITS.max_text == 7000
    assert LIMITS.confirms_delivery is True
    assert ContentKind.SURVEY in LIMITS.carries
    assert LIMITS.delivery_window_s > 0
    assert ViberBotChannel.routes == (WEBHOOK_ROUTE,)
    assert WEBHOOK_ROUTE.channel == "viber_bot"


def test_status_names_cover_the_whole_table() -> None:
    assert sorted(STATUS_NAMES) == list(range(25))
    assert STATUS_NAMES[6] == "receiverNotSubscribed"
    assert STATUS_NAMES[12] == "tooManyRequests"


async def test_owned_client_is_closed() -> None:
    channel = ViberBotChannel()
    await channel.aclose()
    assert channel._client.is_closed


# --- sending ---------------------------------------------------------------------------------

VIBER = cases.HttpBench(
    origin=BASE,
    make=lambda client, **config: ViberBotChannel(base_url=BASE, client=client, **config),
    secrets=(TOKEN, TOKEN[:16]),
    headers={"X-Viber-Auth-Token": TOKEN, "Content-Type": "application/json"},
)

OUT = outbound()
EXACT = {
    "receiver": USER,
    "min_api_version": 1,
    "sender": {"name": "YourStore"},
    "tracking_data": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "type": "text",
    "text": "Your order #12345 has been confirmed",
}


def button(option: str) -> dict[str, Any]:
    return {"ActionType": "reply", "ActionBody": option, "Text": option, "Columns": 6, "Rows": 1}


def send(
    label: str,
    reply: httpx.Response | Exception | None,  # None: nothing may be sent
    expected: Outcome,
    out: Outbound = OUT,
    body: dict[str, Any] | None = None,
    **fields: object,
) -> cases.HttpCase:
    calls = []
    if reply is not None:
        fields = {"receiver": out.address, "text": out.text, **fields}
        calls.append(cases.Call(reply, "POST", "/pa/send_message", body=body, fields=fields))
    return cases.SendCase(label, out, calls, expected)


SENT = Sent(str(MESSAGE_TOKEN))

SEND_CASES = [
    send("text message, exact request", answer(0), SENT, body=EXACT),
    send(
        "survey carries a reply keyboard",
        answer(0),
        SENT,
        out=outbound(text="Rate us", message_type="viber_survey", options=("Good", "Bad", "Ugly")),
        keyboard={
            "Type": "keyboard",
            "DefaultHeight": False,
            "Buttons": [button("Good"), button("Bad"), button("Ugly")],
        },
    ),
    send(
        "sender name cut to 28",
        answer(0),
        SENT,
        outbound(from_name="A" * 40),
        sender={"name": "A" * 28},
    ),
    send("string message token kept", answer(0, message_token="abc123"), Sent("abc123")),
    send("no user id sends nothing", None, Unreachable("NO_USER_ID"), outbound(address="")),
    send("text over 7000 sends nothing", None, Failed("TEXT_TOO_LONG"), outbound(text="x" * 7001)),
]

STATUS_CASES: list[tuple[int, Outcome]] = [
    (0, Sent(str(MESSAGE_TOKEN))),
    (1, Failed("INVALID_URL")),
    (2, Misconfigured("INVALID_AUTH_TOKEN")),
    (3, Failed("BAD_DATA")),
    (4, Failed("MISSING_DATA")),
    (5, Unreachable("NOT_REGISTERED")),
    (6, Unreachable("NOT_SUBSCRIBED")),
    (7, Misconfigured("PUBLIC_ACCOUNT_BLOCKED")),
    (8, Misconfigured("PUBLIC_ACCOUNT_NOT_FOUND")),
    (9, Misconfigured("PUBLIC_ACCOUNT_SUSPENDED")),
    (10, Misconfigured("WEBHOOK_NOT_SET")),
    (11, Unreachable("NO_SUITABLE_DEVICE")),
    (12, Throttled(retry_after_s=1.0, reason="TOO_MANY_REQUESTS")),
    (13, Failed("API_VERSION_NOT_SUPPORTED")),
    (14, Failed("INCOMPATIBLE_WITH_VERSION")),
    (15, Misconfigured("PUBLIC_ACCOUNT_NOT_AUTHORIZED")),
    (16, Failed("INCHAT_REPLY_MESSAGE_NOT_ALLOWED")),
    (17, Failed("PUBLIC_ACCOUNT_IS_NOT_INLINE")),
    (18, Failed("NO_PUBLIC_CHAT")),
    (19, Failed("CANNOT_SEND_BROADCAST")),
    (20, Failed("BROADCAST_NOT_ALLOWED")),
    (21, Failed("UNSUPPORTED_COUNTRY")),
    (22, Misconfigured("PAYMENT_UNSUPPORTED")),
    (23, Misconfigured("FREE_MESSAGES_EXCEEDED")),
    (24, Misconfigured("NO_BALANCE")),
    (25, Failed("GENERAL_ERROR_25")),
    (99, Failed("GENERAL_ERROR_99")),
    (-1, Failed("GENERAL_ERROR_-1")),
]

HTTP_CASES: list[tuple[str, httpx.Response | Exception, Outcome]] = [
    ("500", httpx.Response(500, text="oops"), Retry("HTTP_500")),
    ("502", httpx.Response(502), Retry("HTTP_502")),
    ("503", httpx.Response(503, json={"status": 0}), Retry("HTTP_503")),
    ("429", httpx.Response(429, headers={"Retry-After": "7"}), Throttled(7.0, "HTTP_429")),
    ("429-no-hint", httpx.Response(429), Throttled(1.0, "HTTP_429")),
    ("401", httpx.Response(401), Misconfigured("HTTP_401")),
    ("404", httpx.Response(404), Misconfigured("HTTP_404")),
    ("301", httpx.Response(301, headers={"Location": "https://x"}), Misconfigured("HTTP_301")),
    ("400", httpx.Response(400), Failed("HTTP_400")),
    *TRANSPORT_FAULTS,
    # a 200 we cannot read may be an accepted message behind a proxy: never repeated
    ("html-200", httpx.Response(200, text="<html>proxy</html>"), InDoubt("BAD_RESPONSE")),
    ("no-status", httpx.Response(200, json={"status_message": "ok"}), InDoubt("BAD_RESPONSE")),
    ("ok-no-token", httpx.Response(200, json={"status": 0}), InDoubt("BAD_RESPONSE")),
]

CASES = [
    *SEND_CASES,
    *(send(f"status {status}", answer(status), outcome) for status, outcome in STATUS_CASES),
    *(send(label, reply, outcome) for label, reply, outcome in HTTP_CASES),
]


@pytest.mark.parametrize("case", CASES, ids=cases.ids)
async def test_send(case: cases.HttpCase) -> None:
    await cases.run_send(VIBER, case)


# --- set_webhook and get_account_info ----------------------------------------------------------


async def test_set_webhook_request_and_answer(channel: ViberBotChannel, viber: MockApi) -> None:
    events = ["delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"]
    viber.expect(Exchange(answer(0, event_types=events), path="/pa/set_webhook"))
    url = "https://cascade.test/webhooks/viber_bot/bot-1"
    assert await channel.set_webhook(SENDER, url) == events
    assert viber.requests[0].headers["X-Viber-Auth-Token"] == TOKEN
    # the person's name is shown to operators in chats; no photos are asked for
    assert viber.only_body == {"url": url, "send_name": True, "send_photo": False}


async def test_set_webhook_with_event_filter(channel: ViberBotChannel, viber: MockApi) -> None:
    viber.expect(Exchange(answer(0, event_types=["delivered"]), path="/pa/set_webhook"))
    assert await channel.set_webhook(SENDER, "https://h/w", ["delivered"]) == ["delivered"]
    assert viber.only_body["event_types"] == ["delivered"]


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        (answer(1), 1),
        (answer(2), 2),
        (httpx.Response(500), -1),
        (httpx.Response(200, text="nope"), -1),
    ],
)
async def test_set_webhook_failure_raises(
    channel: ViberBotChannel, viber: MockApi, reply: httpx.Response, status: int
) -> None:
    viber.expect(Exchange(reply, path="/pa/set_webhook"))
    with cases.captured_logs() as records, pytest.raises(ViberApiError) as caught:
        await channel.set_webhook(SENDER, "https://h/w")
    assert caught.value.status == status
    cases.assert_kept(VIBER.secrets, records, str(caught.value), "set_webhook")


async def test_get_account_info(channel: ViberBotChannel, viber: MockApi) -> None:
    viber.expect(
        Exchange(answer(0, name="Shop", webhook="https://h/w"), path="/pa/get_account_info"),
        Exchange(answer(2), path="/pa/get_account_info"),
    )
    info = await channel.get_account_info(SENDER)
    assert info["name"] == "Shop"
    assert info["webhook"] == "https://h/w"
    with pytest.raises(ViberApiError) as caught:
        await channel.get_account_info(SENDER)
    assert caught.value.status == 2


# --- the webhook -------------------------------------------------------------------------------

AT = 1457764197627


def signed(payload: dict[str, Any] | bytes, token: str = TOKEN) -> Inbound:
    body = payload if isinstance(payload, bytes) else msgspec.json.encode(payload)
    return Inbound(SENDER, {"x-viber-content-signature": signature(body, token)}, body)


def user(uid: str = USER) -> dict[str, Any]:
    return {"id": uid, "name": "John", "avatar": "", "country": "UA", "language": "en"}


def message(msg: dict[str, Any]) -> dict[str, Any]:
    return {
        "event": "message",
        "timestamp": AT,
        "chat_hostname": "SN-CHAT-05_",
        "message_token": MESSAGE_TOKEN,
        "sender": user(),
        "message": msg,
        "silent": False,
    }


def receipt(event: str, **extra: Any) -> dict[str, Any]:
    return {
        "event": event,
        "timestamp": AT,
        "chat_hostname": "SN-CHAT-05_",
        "message_token": MESSAGE_TOKEN,
        "user_id": USER,
        **extra,
    }


def chat(content: ChatContent, text: str = "", **fields: Any) -> BotChatMessage:
    """The chat line `message(...)` from John becomes."""
    return BotChatMessage(
        channel="viber_bot",
        sender_id="bot-1",
        address=USER,
        provider_id=str(MESSAGE_TOKEN),
        at_ms=AT,
        content=content,
        text=text,
        name="John",
        **fields,
    )


MEDIA_URL = "https://dl-media.viber.com/1/share/2/long/bots/generated/img/abc.jpg"

# Message callbacks as Viber sends them (developers.viber.com, "Receive message from user")
CHAT_CASES: list[tuple[str, dict[str, Any], tuple[Event, ...]]] = [
    ("text", message({"type": "text", "text": "hello"}), (chat(ChatContent.TEXT, "hello"),)),
    # a NUL as written: the store shows it as U+FFFD (tests/test_inbound_nul.py)
    (
        "text-with-nul",
        message({"type": "text", "text": "hel\u0000lo"}),
        (chat(ChatContent.TEXT, "hel\u0000lo"),),
    ),
    (
        "picture with a caption",
        message({"type": "picture", "text": "my receipt", "media": MEDIA_URL, "thumbnail": ""}),
        (chat(ChatContent.PHOTO, "my receipt", media=MediaRef(MEDIA_URL)),),
    ),
    (
        "file",
        message(
            {
                "type": "file",
                "media": "https://dl-media.viber.com/f/invoice.pdf",
                "file_name": "invoice.pdf",
                "file_size": 48213,
            }
        ),
        (
            chat(
                ChatContent.DOCUMENT,
                media=MediaRef(
                    "https://dl-media.viber.com/f/invoice.pdf", "invoice.pdf", None, 48213
                ),
            ),
        ),
    ),
    (
        "video",
        message(
            {
                "type": "video",
                "media": "https://dl-media.viber.com/v/clip.mp4",
                "size": 420311,
                "duration": 4,
                "thumbnail": "https://dl-media.viber.com/v/clip.jpg",
            }
        ),
        (
            chat(
                ChatContent.VIDEO,
                media=MediaRef("https://dl-media.viber.com/v/clip.mp4", size=420311),
            ),
        ),
    ),
    (
        "location",
        message({"type": "location", "location": {"lat": 50.450001, "lon": 30.523333}}),
        (chat(ChatContent.LOCATION, location=GeoPoint(50.450001, 30.523333)),),
    ),
    (
        "someone else's contact card",
        message({"type": "contact", "contact": {"name": "Bob", "phone_number": "380501234562"}}),
        (chat(ChatContent.CONTACT, contact=SharedContact("+380501234562", "Bob")),),
    ),
    (
        "someone else's card with an odd number keeps it",
        message({"type": "contact", "contact": {"name": "Help", "phone_number": "112"}}),
        (chat(ChatContent.CONTACT, contact=SharedContact("112", "Help")),),
    ),
    (
        "text with tracking data: a survey answer and a chat line",
        message({"type": "text", "text": "Good", "tracking_data": "msg-42"}),
        (
            SurveyAnswer("viber_bot", "bot-1", USER, "Good", "msg-42", AT),
            chat(ChatContent.TEXT, "Good"),
        ),
    ),
    (
        "a picture with tracking data is only a chat line",
        message({"type": "picture", "media": MEDIA_URL, "tracking_data": "msg-42"}),
        (chat(ChatContent.PHOTO, media=MediaRef(MEDIA_URL)),),
    ),
    (
        "no sender name (webhook set without send_name)",
        {**message({"type": "text", "text": "hi"}), "sender": {"id": USER}},
        (
            BotChatMessage(
                "viber_bot", "bot-1", USER, str(MESSAGE_TOKEN), AT, ChatContent.TEXT, "hi"
            ),
        ),
    ),
    ("sticker: not carried by chats", message({"type": "sticker", "sticker_id": 46105}), ()),
    ("url: not carried by chats", message({"type": "url", "media": "https://example.com"}), ()),
    ("picture without media", message({"type": "picture", "text": "?"}), ()),
    ("empty text", message({"type": "text", "text": ""}), ()),
]

EVENT_CASES: list[tuple[str, dict[str, Any], tuple[Event, ...]]] = [
    *CHAT_CASES,
    (
        "delivered",
        receipt("delivered"),
        (DeliveryReport("viber_bot", str(MESSAGE_TOKEN), "delivered", AT),),
    ),
    ("seen", receipt("seen"), (DeliveryReport("viber_bot", str(MESSAGE_TOKEN), "read", AT),)),
    (
        "failed",
        receipt("failed", desc="keyboard invalid"),
        (DeliveryReport("viber_bot", str(MESSAGE_TOKEN), "failed", AT, "keyboard invalid"),),
    ),
    (
        "failed-no-desc",
        receipt("failed"),
        (DeliveryReport("viber_bot", str(MESSAGE_TOKEN), "failed", AT, "FAILED"),),
    ),
    (
        "subscribed",
        {"event": "subscribed", "timestamp": AT, "user": user(), "message_token": 1},
        (ContactState("viber_bot", "bot-1", USER, reachable=True),),
    ),
    (
        "conversation-started-subscriber",
        {"event": "conversation_started", "timestamp": AT, "user": user(), "subscribed": True},
        (ContactState("viber_bot", "bot-1", USER, reachable=True),),
    ),
    (
        "conversation-started-no-flag",
        {"event": "conversation_started", "timestamp": AT, "user": user(), "type": "open"},
        (ContactState("viber_bot", "bot-1", USER, reachable=True),),
    ),
    (
        "conversation-started-not-subscribed",
        {"event": "conversation_started", "timestamp": AT, "user": user(), "subscribed": False},
        (),
    ),
    (
        "unsubscribed",
        {"event": "unsubscribed", "timestamp": AT, "user_id": USER, "message_token": 1},
        (ContactState("viber_bot", "bot-1", USER, reachable=False),),
    ),
    (
        "contact-without-plus",
        message({"type": "contact", "contact": {"name": "John", "phone_number": "380501234567"}}),
        (ContactLinked("viber_bot", "bot-1", phone="+380501234567", address=USER),),
    ),
    (
        "own card, name in another case",
        message({"type": "contact", "contact": {"name": " JOHN", "phone_number": "380501234567"}}),
        (ContactLinked("viber_bot", "bot-1", phone="+380501234567", address=USER),),
    ),
    (
        "contact-with-plus",
        message({"type": "contact", "contact": {"phone_number": "+44 20 7946-0958"}}),
        (ContactLinked("viber_bot", "bot-1", phone="+442079460958", address=USER),),
    ),
    (
        "contact-unusable-number",
        message({"type": "contact", "contact": {"phone_number": "12"}}),
        (),
    ),
    ("contact-no-number", message({"type": "contact", "contact": {"name": "J"}}), ()),
    ("webhook-check", {"event": "webhook", "timestamp": AT, "message_token": 1}, ()),
    ("unknown-event", {"event": "client_status", "timestamp": AT}, ()),
]

MALFORMED: list[tuple[str, bytes]] = [
    ("not-json", b"{not json"),
    ("empty", b""),
    ("array", b"[]"),
    ("no-event", b'{"timestamp": 1}'),
    ("event-not-string", b'{"event": 5}'),
    ("delivered-no-token", b'{"event": "delivered", "timestamp": 1}'),
    ("delivered-empty-token", b'{"event": "delivered", "timestamp": 1, "message_token": ""}'),
    ("seen-bad-timestamp", b'{"event": "seen", "timestamp": "x", "message_token": 1}'),
    ("subscribed-no-user", b'{"event": "subscribed", "timestamp": 1}'),
    ("subscribed-empty-id", b'{"event": "subscribed", "timestamp": 1, "user": {"id": ""}}'),
    ("unsubscribed-no-user", b'{"event": "unsubscribed", "timestamp": 1}'),
    ("message-no-sender", b'{"event": "message", "timestamp": 1, "message": {"type": "text"}}'),
    ("message-no-body", b'{"event": "message", "timestamp": 1, "sender": {"id": "u"}}'),
    (
        "location-without-lon",
        b'{"event": "message", "timestamp": 1, "sender": {"id": "u"},'
        b' "message": {"type": "location", "location": {"lat": 1.5}}}',
    ),
    (
        "file-size-not-a-number",
        b'{"event": "message", "timestamp": 1, "sender": {"id": "u"},'
        b' "message": {"type": "file", "media": "https://m/f", "file_size": "big"}}',
    ),
]


def _wrong_key(body: bytes) -> dict[str, str]:
    return {"x-viber-content-signature": signature(body, "another-bots-token")}


def _uppercase_ok(body: bytes) -> dict[str, str]:
    return {"x-viber-content-signature": signature(body, TOKEN).upper()}


SIGNATURE_CASES: list[tuple[str, Callable[[bytes], dict[str, str]]]] = [
    ("missing", lambda body: {}),
    ("empty", lambda body: {"x-viber-content-signature": ""}),
    ("garbage", lambda body: {"x-viber-content-signature": "deadbeef"}),
    ("non-ascii", lambda body: {"x-viber-content-signature": "é" * 64}),
    ("other-token", _wrong_key),
    ("other-body", lambda body: {"x-viber-content-signature": signature(b"{}", TOKEN)}),
]

DELIVERED = msgspec.json.encode(receipt("delivered"))
SEEN = msgspec.json.encode(receipt("seen"))

HOOK_CASES = [
    *(
        cases.HookCase(label, signed(payload), 200, events)
        for label, payload, events in EVENT_CASES
    ),
    *(
        cases.HookCase(label, signed(body), 400, body={"error": "malformed callback"})
        for label, body in MALFORMED
    ),
    *(
        cases.HookCase(f"signature {label}", Inbound(SENDER, headers(DELIVERED), DELIVERED), 401)
        for label, headers in SIGNATURE_CASES
    ),
    cases.HookCase("forged", Inbound(SENDER, {"x-viber-content-signature": "00"}, b"{}"), 401),
    cases.HookCase(
        "sender without a token accepts nothing",
        Inbound(
            Sender("bot-1", ""), {"x-viber-content-signature": signature(DELIVERED, "")}, DELIVERED
        ),
        401,
    ),
    cases.HookCase(
        "signature hex case does not matter",
        Inbound(SENDER, _uppercase_ok(SEEN), SEEN),
        200,
        (DeliveryReport("viber_bot", str(MESSAGE_TOKEN), "read", AT),),
    ),
]


@pytest.mark.parametrize("case", HOOK_CASES, ids=cases.ids)
async def test_webhook(case: cases.HookCase) -> None:
    await cases.run_hook(WEBHOOK_ROUTE.handler, case, VIBER.secrets)


def test_signature_is_hex_hmac_sha256_of_the_raw_body() -> None:
    # HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"), a published vector
    assert signature(b"The quick brown fox jumps over the lazy dog", "key") == (
        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    )


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("delivered", ChatMessageStatus.SUCCESS),
        ("read", ChatMessageStatus.READ),
        ("failed", ChatMessageStatus.REJECTED),
    ],
)
async def test_a_receipt_for_an_operators_message_says_its_chat_status(
    state: str, status: ChatMessageStatus
) -> None:
    event = {"read": "seen"}.get(state, state)
    reply = await handle_webhook(signed(receipt(event)))
    [report] = reply.events
    assert isinstance(report, DeliveryReport)
    assert report.provider_id == str(MESSAGE_TOKEN)  # the token send_chat_* returned
    assert ChatMessageStatus.of_report(report.state) is status
