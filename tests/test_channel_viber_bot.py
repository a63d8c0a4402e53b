"""The Viber bot adapter against a mocked transport, and its webhook, table-driven.

Every test that talks to "Viber" declares the exchanges it expects (tests/mock_transport.py).
"""

from __future__ import annotations

import json
import logging
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
from cascade.domain.events import ContactLinked, ContactState, DeliveryReport, Event, SurveyAnswer
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
    assert LIMITS.carries_survey is True
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


async def test_text_message_request_is_exact(channel: ViberBotChannel, viber: MockApi) -> None:
    viber.expect(Exchange(answer(0)))
    assert await channel.send(outbound()) == Sent(str(MESSAGE_TOKEN))
    request = viber.requests[0]
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/pa/send_message"
    assert request.headers["X-Viber-Auth-Token"] == TOKEN
    assert request.headers["Content-Type"] == "application/json"
    assert viber.only_body == {
        "receiver": USER,
        "min_api_version": 1,
        "sender": {"name": "YourStore"},
        "tracking_data": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
        "type": "text",
        "text": "Your order #12345 has been confirmed",
    }


async def test_survey_carries_a_reply_keyboard(channel: ViberBotChannel, viber: MockApi) -> None:
    viber.expect(Exchange(answer(0)))
    out = outbound(text="Rate us", message_type="viber_survey", options=("Good", "Bad", "Ugly"))
    assert await channel.send(out) == Sent(str(MESSAGE_TOKEN))
    body = viber.only_body
    assert body["text"] == "Rate us"
    assert body["keyboard"]["Type"] == "keyboard"
    buttons = body["keyboard"]["Buttons"]
    assert [(b["ActionType"], b["ActionBody"], b["Text"]) for b in buttons] == [
        ("reply", "Good", "Good"),
        ("reply", "Bad", "Bad"),
        ("reply", "Ugly", "Ugly"),
    ]


async def test_sender_name_is_cut_to_28(channel: ViberBotChannel, viber: MockApi) -> None:
    viber.expect(Exchange(answer(0)))
    await channel.send(outbound(from_name="A" * 40))
    assert viber.only_body["sender"] == {"name": "A" * 28}


async def test_string_message_token_is_kept(channel: ViberBotChannel, viber: MockApi) -> None:
    viber.expect(Exchange(answer(0, message_token="abc123")))
    assert await channel.send(outbound()) == Sent("abc123")


async def test_no_user_id_sends_nothing(channel: ViberBotChannel, viber: MockApi) -> None:
    assert await channel.send(outbound(address="")) == Unreachable("NO_USER_ID")
    assert viber.requests == []


async def test_text_over_7000_sends_nothing(channel: ViberBotChannel, viber: MockApi) -> None:
    assert await channel.send(outbound(text="x" * 7001)) == Failed("TEXT_TOO_LONG")
    assert viber.requests == []


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


@pytest.mark.parametrize(("status", "expected"), STATUS_CASES, ids=lambda v: repr(v))
async def test_every_status_code_maps(
    channel: ViberBotChannel, viber: MockApi, status: int, expected: Outcome
) -> None:
    viber.expect(Exchange(answer(status)))
    assert await channel.send(outbound()) == expected


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


@pytest.mark.parametrize(("case", "reply", "expected"), HTTP_CASES, ids=[c[0] for c in HTTP_CASES])
async def test_transport_and_http_faults(
    channel: ViberBotChannel,
    viber: MockApi,
    case: str,
    reply: httpx.Response | Exception,
    expected: Outcome,
) -> None:
    viber.expect(Exchange(reply))
    assert await channel.send(outbound()) == expected


async def test_token_never_logged(
    channel: ViberBotChannel, viber: MockApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    replies: list[httpx.Response | Exception] = [answer(code) for code in range(26)]
    replies += [c[1] for c in HTTP_CASES]
    viber.expect(*(Exchange(r) for r in replies))
    for _ in replies:
        await channel.send(outbound())
    viber.expect(Exchange(answer(2), path="/pa/set_webhook"))
    with pytest.raises(ViberApiError):
        await channel.set_webhook(SENDER, "https://cascade.test/webhooks/viber_bot/bot-1")
    forged = Inbound(SENDER, {"x-viber-content-signature": "00"}, b"{}")
    assert (await handle_webhook(forged)).status == 401
    assert caplog.records, "the faults above should have been logged"
    assert TOKEN not in caplog.text
    assert TOKEN[:16] not in caplog.text


# --- set_webhook and get_account_info ----------------------------------------------------------


async def test_set_webhook_request_and_answer(channel: ViberBotChannel, viber: MockApi) -> None:
    events = ["delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"]
    viber.expect(Exchange(answer(0, event_types=events), path="/pa/set_webhook"))
    url = "https://cascade.test/webhooks/viber_bot/bot-1"
    assert await channel.set_webhook(SENDER, url) == events
    assert viber.requests[0].headers["X-Viber-Auth-Token"] == TOKEN
    assert viber.only_body == {"url": url, "send_name": False, "send_photo": False}


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
    with pytest.raises(ViberApiError) as caught:
        await channel.set_webhook(SENDER, "https://h/w")
    assert caught.value.status == status
    assert TOKEN not in str(caught.value)


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


def test_runner_rejects_surprises_and_leftovers() -> None:
    mock = MockApi("/pa/send_message")
    with pytest.raises(AssertionError, match="unexpected request"):
        mock.handle(httpx.Request("POST", f"{BASE}/pa/send_message"))
    mock.expect(Exchange(answer(0)))
    with pytest.raises(AssertionError, match="never made"):
        mock.assert_done()


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


WEBHOOK_CASES: list[tuple[str, dict[str, Any], tuple[Event, ...]]] = [
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
        message({"type": "contact", "contact": {"name": "J", "phone_number": "380501234567"}}),
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
    (
        "survey-answer",
        message({"type": "text", "text": "Good", "tracking_data": "msg-42"}),
        (SurveyAnswer("viber_bot", "bot-1", USER, "Good", "msg-42", AT),),
    ),
    ("text-without-tracking", message({"type": "text", "text": "hello"}), ()),
    ("picture", message({"type": "picture", "media": "https://x/p.jpg"}), ()),
    ("webhook-check", {"event": "webhook", "timestamp": AT, "message_token": 1}, ()),
    ("unknown-event", {"event": "client_status", "timestamp": AT}, ()),
]


@pytest.mark.parametrize(
    ("case", "payload", "expected"), WEBHOOK_CASES, ids=[c[0] for c in WEBHOOK_CASES]
)
async def test_webhook_events(
    case: str, payload: dict[str, Any], expected: tuple[Event, ...]
) -> None:
    reply = await WEBHOOK_ROUTE.handler(signed(payload))
    assert reply.status == 200
    assert reply.events == expected


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
]


@pytest.mark.parametrize(("case", "body"), MALFORMED, ids=[c[0] for c in MALFORMED])
async def test_malformed_callback_is_400(case: str, body: bytes) -> None:
    reply = await handle_webhook(signed(body))
    assert reply.status == 400
    assert reply.events == ()
    assert json.loads(reply.body) == {"error": "malformed callback"}


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


@pytest.mark.parametrize(("case", "headers"), SIGNATURE_CASES, ids=[c[0] for c in SIGNATURE_CASES])
async def test_bad_signature_is_401_without_events(
    case: str, headers: Callable[[bytes], dict[str, str]]
) -> None:
    body = msgspec.json.encode(receipt("delivered"))
    reply = await handle_webhook(Inbound(SENDER, headers(body), body))
    assert reply.status == 401
    assert reply.events == ()


async def test_sender_without_token_accepts_nothing() -> None:
    body = msgspec.json.encode(receipt("delivered"))
    inbound = Inbound(Sender("bot-1", ""), {"x-viber-content-signature": signature(body, "")}, body)
    assert (await handle_webhook(inbound)).status == 401


async def test_signature_hex_case_does_not_matter() -> None:
    body = msgspec.json.encode(receipt("seen"))
    reply = await handle_webhook(Inbound(SENDER, _uppercase_ok(body), body))
    assert reply.status == 200
    assert len(reply.events) == 1


def test_signature_is_hex_hmac_sha256_of_the_raw_body() -> None:
    # HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"), a published vector
    assert signature(b"The quick brown fox jumps over the lazy dog", "key") == (
        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    )
