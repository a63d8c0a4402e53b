"""The Viber Business adapter (Vonage Messages API) against a mocked transport, and its
status webhook, table-driven.

Sends and status callbacks are rows for the channel test runner (tests/channel_cases.py).
Webhook tokens are made here with a few lines of `hmac`, independently of the code under test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import msgspec
import pytest

from cascade.channels.base import Channel, Inbound
from cascade.channels.viber_business import (
    LIMITS,
    MAX_TTL_S,
    WEBHOOK_ROUTE,
    ViberBusinessChannel,
)
from cascade.domain.content import (
    Action,
    ActionKind,
    Button,
    Content,
    ContentKind,
    Media,
    MediaKind,
    Template,
)
from cascade.domain.events import DeliveryReport, Event, InboundMessage
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
from tests.mock_transport import TRANSPORT_FAULTS
from tests.outbound import outbound_to

API_KEY = "a1b2c3d4"
API_SECRET = "Z9y8X7w6V5u4T3s2"
SIGNATURE_SECRET = "sig-secret-0123456789abcdef0123456789abcdef"
SERVICE_ID = "16273"
BASE = "https://vonage.test"
SENDER = Sender(id="acct-1", token=f"{API_KEY}:{API_SECRET}", webhook_secret=SIGNATURE_SECRET)
MESSAGE_UUID = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
BASIC = "Basic " + base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()


def accepted(uuid: str = MESSAGE_UUID) -> httpx.Response:
    return httpx.Response(202, json={"message_uuid": uuid})


def problem(status: int, code: int | str, title: str = "Error", **extra: Any) -> httpx.Response:
    anchor = f"messages#{code}" if isinstance(code, int) else f"#{code}"
    body = {
        "type": f"https://developer.vonage.com/api-errors/{anchor}".replace("/#", "#"),
        "title": title,
        "detail": "…",
        "instance": "bf0ca0bf927b3b52e3cb03217e1a1ddf",
        **extra,
    }
    return httpx.Response(status, json=body, headers={"Content-Type": "application/problem+json"})


def outbound(
    *,
    text: str = "Your order #12345 has been confirmed",
    message_type: str = "transaction",
    ttl: int = 3600,
    sender: Sender = SENDER,
    phone: str = "+380501234563",
    **extras: Any,
) -> Outbound:
    return outbound_to(
        phone, sender, text=text, message_type=message_type, ttl_remaining_s=ttl, **extras
    )


# --- what the channel is -----------------------------------------------------------------


def test_channel_declares_its_limits_and_route() -> None:
    channel: Channel = ViberBusinessChannel()
    assert channel.name == "viber_business"
    assert channel.limits == LIMITS
    assert LIMITS.max_text == 1000
    assert LIMITS.confirms_delivery is True
    # Vonage: text, image, video, file, a button; Viber's own API: the rest
    assert LIMITS.carries == {
        ContentKind.TEXT,
        ContentKind.IMAGE,
        ContentKind.VIDEO,
        ContentKind.FILE,
        ContentKind.BUTTONS,
        ContentKind.SURVEY,
        ContentKind.CAROUSEL,
        ContentKind.TEMPLATE,
    }
    assert LIMITS.delivery_window_s == 600
    assert WEBHOOK_ROUTE.channel == "viber_business"
    routes = ViberBusinessChannel().routes
    assert [r.channel for r in routes] == ["viber_business"]


async def test_owned_client_is_closed() -> None:
    channel = ViberBusinessChannel()
    await channel.aclose()
    assert channel._client.is_closed


def test_repr_hides_credentials() -> None:
    channel = ViberBusinessChannel(api_key=API_KEY, api_secret=API_SECRET)
    assert API_SECRET not in repr(channel)
    assert API_KEY not in repr(channel)


# --- sending -------------------------------------------------------------------------------------

VONAGE = cases.HttpBench(
    origin=BASE,
    make=lambda client, **config: ViberBusinessChannel(base_url=BASE, client=client, **config),
    secrets=(API_SECRET, SIGNATURE_SECRET, BASIC.split()[1]),
    headers={"Authorization": BASIC, "Content-Type": "application/json"},
)
WITH_SERVICE: dict[str, str] = {"service_id": SERVICE_ID}


def send(
    label: str,
    reply: httpx.Response | Exception | None,  # None: nothing may be sent
    expected: Outcome,
    out: Outbound | None = None,
    body: dict[str, Any] | None = None,
    config: Mapping[str, str] = WITH_SERVICE,
    headers: Mapping[str, str] | None = None,
    fields: Mapping[str, str] | None = None,
    secrets: tuple[str, ...] = (),  # what `config` holds
) -> cases.HttpCase:
    out = out or outbound()
    calls = []
    if reply is not None:
        key = {"to": out.phone.removeprefix("+"), "client_ref": out.attempt_id, **(fields or {})}
        calls.append(
            cases.Call(reply, "POST", "/v1/messages", headers=headers or {}, body=body, fields=key)
        )
    return cases.SendCase(label, out, calls, expected, config, secrets)


INSTALLATION_KEY, INSTALLATION_SECRET = "k2-install", "s2-install-secret"
INSTALLATION = {"api_key": INSTALLATION_KEY, "api_secret": INSTALLATION_SECRET, "service_id": "999"}
INSTALLATION_BASIC = base64.b64encode(f"{INSTALLATION_KEY}:{INSTALLATION_SECRET}".encode()).decode()


IMAGE = "https://shop.test/sale.jpg"


def vonage_body(text: str = "Your order #12345 has been confirmed", **viber: Any) -> dict[str, Any]:
    """The whole request body Vonage must get: a text, unless `image` replaces it."""
    content: dict[str, Any] = {"message_type": "text", "text": text}
    if "image" in viber:
        content = {"message_type": "image", "image": viber.pop("image")}
    return {
        **content,
        "to": "380501234563",
        "from": SERVICE_ID,
        "channel": "viber_service",
        "client_ref": "att-1",
        "viber_service": {"category": "transaction", "ttl": 3600, **viber},
    }


SALE = {"url": "https://shop.test/sale", "text": "Shop now"}
VIDEO, THUMB, PDF = (
    "https://shop.test/promo.mp4",
    "https://shop.test/thumb.jpg",
    "https://shop.test/invoice.pdf",
)
SHOP = Button("Shop now", Action(ActionKind.OPEN_URL, url="https://shop.test/sale"))


def media_body(**viber: Any) -> dict[str, Any]:
    """`vonage_body` without its text: a video's or a file's own fields are added."""
    return {k: v for k, v in vonage_body(**viber).items() if k != "text"}


def video(**change: Any) -> Content:
    values: dict[str, Any] = {
        "thumbnail_url": THUMB,
        "size_bytes": 12_500_000,
        "duration_s": 42,
        **change,
    }
    return Content(text="Watch", media=Media(MediaKind.VIDEO, VIDEO, **values), buttons=(SHOP,))


def document(name: str, kind: str) -> Content:
    return Content(media=Media(MediaKind.FILE, PDF, file_name=name, file_type=kind))


BODY_CASES: list[tuple[str, Outbound, dict[str, Any]]] = [
    ("transaction-text", outbound(), vonage_body()),
    (
        "promo-image-button",
        outbound(
            text="Spring sale: -30%",
            message_type="promo",
            ttl=259_200,
            image_url=IMAGE,
            button_text="Shop now",
            button_url="https://shop.test/sale",
        ),
        vonage_body(
            image={"url": IMAGE, "caption": "Spring sale: -30%"},
            category="promotion",
            ttl=259_200,
            action=SALE,
        ),
    ),
    (
        "promo-text-only",
        outbound(text="Spring sale", message_type="promo"),
        vonage_body("Spring sale", category="promotion"),
    ),
    (
        "promo-text-button",
        outbound(
            text="Spring sale",
            message_type="promo",
            button_text="Shop now",
            button_url="https://shop.test/sale",
        ),
        vonage_body("Spring sale", category="promotion", action=SALE),
    ),
    (
        "promo-video-thumbnail-size-duration",
        outbound(message_type="promo", text="Watch", content=video()),
        {
            **media_body(category="promotion"),
            "message_type": "video",
            "video": {"url": VIDEO, "thumb_url": THUMB, "caption": "Watch"},
            "viber_service": {
                "category": "promotion",
                "ttl": 3600,
                "duration": "42",
                "file_size": "13",  # 12.5 MB, rounded up
                "action": SALE,
            },
        },
    ),
    (
        "survey-as-numbered-lines-without-partner-service-id",
        outbound(content=Content(text="How was it?", survey=("Good", "Bad"))),
        vonage_body("How was it?\n1. Good\n2. Bad"),
    ),
    (
        "transaction-file-pdf",
        outbound(content=document("invoice", "pdf")),
        {
            **media_body(),
            "message_type": "file",
            "file": {"url": PDF, "name": "invoice.pdf"},
        },
    ),
    (
        "transaction-file-named",
        outbound(content=document("May report.xlsx", "xlsx")),
        {
            **media_body(),
            "message_type": "file",
            "file": {"url": PDF, "name": "May report.xlsx"},
        },
    ),
    ("ttl-clamped-to-three-days", outbound(ttl=2_592_000), vonage_body(ttl=MAX_TTL_S)),
    ("ttl-at-the-minimum", outbound(ttl=30, message_type="viber_survey"), vonage_body(ttl=30)),
    (
        "button-label-cut-to-30",
        outbound(text="Sale", message_type="promo", button_text="B" * 40, button_url="https://b"),
        vonage_body("Sale", category="promotion", action={"url": "https://b", "text": "B" * 30}),
    ),
]


LOCAL_CASES: list[tuple[str, dict[str, str], Outbound, Outcome]] = [
    (
        "no-credentials",
        WITH_SERVICE,
        outbound(sender=Sender("x", "")),
        Misconfigured("NO_CREDENTIALS"),
    ),
    ("no-service-id", {}, outbound(), Misconfigured("NO_SERVICE_ID")),
    ("ttl-too-short", WITH_SERVICE, outbound(ttl=29), Failed("TTL_TOO_SHORT")),
    ("ttl-spent", WITH_SERVICE, outbound(ttl=0), Failed("TTL_TOO_SHORT")),
    ("text-too-long", WITH_SERVICE, outbound(text="x" * 1001), Failed("TEXT_TOO_LONG")),
    ("empty", WITH_SERVICE, outbound(text=""), Failed("EMPTY_MESSAGE")),
    ("bad-number", WITH_SERVICE, outbound(phone="+12"), Failed("INVALID_NUMBER")),
    (
        "video-without-thumbnail",
        WITH_SERVICE,
        outbound(content=video(thumbnail_url=None)),
        Failed("VIDEO_THUMBNAIL"),
    ),
    (
        "video-thumbnail-over-1000",
        WITH_SERVICE,
        outbound(content=video(thumbnail_url="https://t/" + "t" * 1000)),
        Failed("VIDEO_THUMBNAIL"),
    ),
    (
        "video-without-duration",
        WITH_SERVICE,
        outbound(content=video(duration_s=None)),
        Failed("VIDEO_SIZE_AND_DURATION"),
    ),
    (
        "video-over-600-s",
        WITH_SERVICE,
        outbound(content=video(duration_s=601)),
        Failed("VIDEO_TOO_LARGE"),
    ),
    (
        "video-over-200-mb",
        WITH_SERVICE,
        outbound(content=video(size_bytes=200_000_001)),
        Failed("VIDEO_TOO_LARGE"),
    ),
    (
        "file-name-over-25",
        WITH_SERVICE,
        outbound(content=document("n" * 22, "pdf")),
        Failed("FILE_NAME_TOO_LONG"),
    ),
    (
        "template-without-partner-service-id",
        WITH_SERVICE,
        outbound(content=Content(template=Template("t-1", "en", {"pin": "1"}))),
        Misconfigured("NO_PARTNER_SERVICE_ID"),
    ),
]


# --- sending: every answer ---------------------------------------------------------------------

ANSWER_CASES: list[tuple[str, httpx.Response | Exception, Outcome]] = [
    ("202", accepted("uuid-1"), Sent("uuid-1")),
    ("200", httpx.Response(200, json={"message_uuid": "uuid-2"}), Sent("uuid-2")),
    ("401", problem(401, "unauthorized", "Unauthorized"), Misconfigured("UNAUTHORIZED")),
    ("402", problem(402, "low-balance", "Low balance"), Misconfigured("LOW_BALANCE")),
    ("403", problem(403, "forbidden", "Forbidden"), Misconfigured("FORBIDDEN")),
    ("404", httpx.Response(404, text="not here"), Misconfigured("HTTP_404")),
    ("301", httpx.Response(301, headers={"Location": "https://x"}), Misconfigured("HTTP_301")),
    (
        "429-retry-after",
        httpx.Response(
            429,
            json={"type": "https://developer.vonage.com/api-errors#throttled"},
            headers={"Retry-After": "7"},
        ),
        Throttled(7.0, "THROTTLED"),
    ),
    ("429-no-hint", problem(429, "throttled", "Rate Limit Hit"), Throttled(1.0, "THROTTLED")),
    ("422-invalid-params", problem(422, 1150, "Invalid params"), Failed("INVALID_PARAMS")),
    ("422-invalid-ttl", problem(422, 1130, "Invalid TTL"), Failed("INVALID_TTL")),
    ("422-invalid-sender", problem(422, 1420, "Invalid sender"), Misconfigured("INVALID_SENDER")),
    ("422-not-viber-user", problem(422, 1300), Unreachable("NOT_VIBER_USER")),
    ("422-no-device", problem(422, 1310), Unreachable("NO_SUITABLE_DEVICE")),
    ("422-blocked", problem(422, 1240), Unreachable("BLOCKED", blocked=True)),
    ("422-throttled-code", problem(422, 1000), Throttled(1.0, "THROTTLED")),
    ("422-barred-account", problem(422, 1060), Misconfigured("ACCOUNT_BARRED")),
    ("422-unknown-code", problem(422, 1999), Failed("VONAGE_1999")),
    (
        "422-title-code",
        httpx.Response(422, json={"title": "1310"}),
        Unreachable("NO_SUITABLE_DEVICE"),
    ),
    ("422-no-body", httpx.Response(422), Failed("HTTP_422")),
    ("400-html", httpx.Response(400, text="<html>bad</html>"), Failed("HTTP_400")),
    ("500", problem(500, "internal", "Internal Error"), Retry("HTTP_500")),
    ("503", httpx.Response(503), Retry("HTTP_503")),
    *TRANSPORT_FAULTS,
    # a 2xx we cannot read may be an accepted message behind a proxy: never repeated
    ("html-202", httpx.Response(202, text="<html>proxy</html>"), InDoubt("BAD_RESPONSE")),
    ("202-no-uuid", httpx.Response(202, json={"uuid": "x"}), InDoubt("BAD_RESPONSE")),
    ("202-empty-uuid", httpx.Response(202, json={"message_uuid": ""}), InDoubt("BAD_RESPONSE")),
]


# --- a file with its text: two requests, the file and then the text ---------------------------

INVOICE_TEXT = "Your invoice for May"
FILE_UUID, TEXT_UUID = MESSAGE_UUID, "11111111-2222-3333-4444-555555555555"


def invoice(**content: Any) -> Outbound:
    return outbound(
        content=Content(
            text=INVOICE_TEXT,
            media=Media(MediaKind.FILE, PDF, file_name="invoice", file_type="pdf"),
            **content,
        )
    )


FILE_BODY: dict[str, Any] = {
    **media_body(),
    "message_type": "file",
    "file": {"url": PDF, "name": "invoice.pdf"},
}


def file_then_text(
    label: str, text_reply: httpx.Response | Exception, expected: Outcome, **content: Any
) -> cases.HttpCase:
    """A file with a text: Vonage gets the file (no caption: it has none), then the text
    as a text message with the same client_ref; `text_reply` answers the second."""
    text_body = vonage_body(INVOICE_TEXT, **({"action": SALE} if content else {}))
    calls = [
        cases.Call(accepted(FILE_UUID), "POST", "/v1/messages", body=FILE_BODY),
        cases.Call(text_reply, "POST", "/v1/messages", body=text_body),
    ]
    return cases.SendCase(label, invoice(**content), calls, expected, WITH_SERVICE)


FILE_WITH_TEXT_CASES = [
    # both taken: one step of two parts, delivered when both are reported delivered
    file_then_text(
        "file-then-its-text",
        accepted(TEXT_UUID),
        Sent(FILE_UUID, parts=2, part_ids=(FILE_UUID, TEXT_UUID)),
    ),
    # the button goes with the text (a file message carries none)
    file_then_text(
        "file-then-its-text-with-the-button",
        accepted(TEXT_UUID),
        Sent(FILE_UUID, parts=2, part_ids=(FILE_UUID, TEXT_UUID)),
        buttons=(SHOP,),
    ),
    # the file went: the step is never sent again, whatever the text's answer
    file_then_text("text-refused", problem(422, 1150), Failed("TEXT_NOT_SENT:INVALID_PARAMS")),
    file_then_text("text-5xx", httpx.Response(503), Failed("TEXT_NOT_SENT:HTTP_503")),
    file_then_text(
        "text-throttled",
        problem(429, "throttled", "Rate Limit Hit"),
        Failed("TEXT_NOT_SENT:THROTTLED"),
    ),
    file_then_text(
        "text-no-answer", httpx.ReadTimeout("slow"), InDoubt("TEXT_NO_ANSWER:ReadTimeout")
    ),
    # the file refused: nothing went out, the text is not sent alone
    cases.SendCase(
        "file-refused-text-not-sent-alone",
        invoice(),
        [cases.Call(problem(422, 1150), "POST", "/v1/messages", body=FILE_BODY)],
        Failed("INVALID_PARAMS"),
        WITH_SERVICE,
    ),
    cases.SendCase(
        "file-5xx-retried-whole",
        invoice(),
        [cases.Call(httpx.Response(500), "POST", "/v1/messages", body=FILE_BODY)],
        Retry("HTTP_500"),
        WITH_SERVICE,
    ),
]


CASES = [
    *FILE_WITH_TEXT_CASES,
    *(send(label, accepted(), Sent(MESSAGE_UUID), out, exact) for label, out, exact in BODY_CASES),
    send(
        "installation credentials when the sender has none",
        accepted(),
        Sent(MESSAGE_UUID),
        outbound(sender=Sender("viber_business", "")),
        config=INSTALLATION,
        headers={"Authorization": f"Basic {INSTALLATION_BASIC}"},
        fields={"from": "999"},
        secrets=(INSTALLATION_SECRET, INSTALLATION_BASIC),
    ),
    # a sender's own account, with its own service id, wins
    send(
        "the sender's own account wins",
        accepted(),
        Sent(MESSAGE_UUID),
        outbound(sender=Sender("acct-2", f"{API_KEY}:{API_SECRET}:777")),
        config=INSTALLATION,
        fields={"from": "777"},
        secrets=(INSTALLATION_SECRET, INSTALLATION_BASIC),
    ),
    *(
        send(label, None, expected, out, config=config)
        for label, config, out, expected in LOCAL_CASES
    ),
    *(send(label, reply, expected) for label, reply, expected in ANSWER_CASES),
]


@pytest.mark.parametrize("case", CASES, ids=cases.ids)
async def test_send(case: cases.HttpCase) -> None:
    await cases.run_send(VONAGE, case)


# --- the status webhook --------------------------------------------------------------------------

AT_ISO = "2020-01-01T14:00:00.000Z"
AT_MS = 1_577_887_200_000


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def token(
    body: bytes,
    secret: str = SIGNATURE_SECRET,
    *,
    iat: float | None = None,
    alg: str = "HS256",
    claims: dict[str, Any] | None = None,
) -> str:
    """`Bearer <JWT>` as Vonage signs a webhook: HS256, `payload_hash` of the body."""
    payload: dict[str, Any] = {
        "iat": int(time.time()) if iat is None else iat,
        "jti": "c5ba8f24-1a14-4c10-bfdf-3fbe8ce511b5",
        "iss": "Vonage",
        "payload_hash": hashlib.sha256(body).hexdigest(),
        "api_key": API_KEY,
    }
    payload.update(claims or {})
    head = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    signing_input = f"{head}.{b64url(json.dumps(payload).encode())}"
    mac = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"Bearer {signing_input}.{b64url(mac)}"


def status(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "message_uuid": MESSAGE_UUID,
        "to": "380501234563",
        "from": SERVICE_ID,
        "timestamp": AT_ISO,
        "status": name,
        "channel": "viber_service",
        "client_ref": "att-1",
        **extra,
    }


def error(code: int) -> dict[str, Any]:
    return {
        "type": f"https://developer.vonage.com/api-errors/messages#{code}",
        "title": str(code),
        "detail": "…",
        "instance": "bf0ca0bf927b3b52e3cb03217e1a1ddf",
    }


def signed(payload: dict[str, Any] | bytes, **token_args: Any) -> Inbound:
    body = payload if isinstance(payload, bytes) else msgspec.json.encode(payload)
    return Inbound(SENDER, {"authorization": token(body, **token_args)}, body)


def signed_then(payload: dict[str, Any] | bytes, **token_args: Any) -> Callable[[], Inbound]:
    """`signed`, as the case runs: the token's iat is then."""
    return lambda: signed(payload, **token_args)


def report(
    state: str, reason: str | None = None, attempt_id: str | None = "att-1"
) -> DeliveryReport:
    """The report a status names; it carries our client_ref back (the attempt's id)."""
    return DeliveryReport(
        "viber_business",
        MESSAGE_UUID,
        state,  # type: ignore[arg-type]
        AT_MS,
        reason,
        attempt_id=attempt_id,
    )


def inbound(**changes: Any) -> dict[str, Any]:
    """A person's answer as Vonage posts it to the inbound URL (`None` drops a field)."""
    body = {
        "channel": "viber_service",
        "message_uuid": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
        "to": SERVICE_ID,
        "from": "380501234563",
        "timestamp": AT_ISO,
        "message_type": "text",
        "text": "Yes, please",
        "context_status": "available",
        "context": {"message_uuid": MESSAGE_UUID},
        **changes,
    }
    return {k: v for k, v in body.items() if v is not None}


def answer(text: str) -> InboundMessage:
    return InboundMessage(
        "viber_business",
        "+380501234563",
        SERVICE_ID,
        text,
        AT_MS,
        provider_id="aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
    )


EVENT_CASES: list[tuple[str, dict[str, Any], tuple[Event, ...]]] = [
    (
        "delivered",
        status("delivered", usage={"currency": "EUR", "price": "0.0085"}),
        (report("delivered"),),
    ),
    ("read", status("read"), (report("read"),)),
    ("submitted", status("submitted"), ()),
    (
        "not-viber-user",
        status("rejected", error=error(1300)),
        (report("failed", "NOT_VIBER_USER"),),
    ),
    (
        "no-device",
        status("undeliverable", error=error(1310)),
        (report("failed", "NO_SUITABLE_DEVICE"),),
    ),
    ("blocked", status("rejected", error=error(1240)), (report("failed", "BLOCKED"),)),
    ("expired", status("rejected", error=error(1360)), (report("failed", "EXPIRED"),)),
    ("unknown-code", status("rejected", error=error(1999)), (report("failed", "VONAGE_1999"),)),
    (
        "numeric-title",
        status("rejected", error={"title": 1300}),
        (report("failed", "NOT_VIBER_USER"),),
    ),
    ("no-error-object", status("rejected"), (report("failed", "REJECTED"),)),
    (
        "offset-timestamp",
        status("delivered", timestamp="2020-01-01T16:00:00+02:00"),
        (report("delivered"),),
    ),
    ("other-channel", status("delivered", channel="sms"), ()),
    ("future-status", status("accepted_by_carrier"), ()),
    # a person answering: the inbound URL's webhook (Messages API v1, viber_service)
    ("inbound-text", inbound(), (answer("Yes, please"),)),
    # a NUL as written: the store shows it as U+FFFD (tests/test_inbound_nul.py)
    ("inbound-nul", inbound(text="Yes\u0000"), (answer("Yes\u0000"),)),
    ("inbound-plus-sender", inbound(**{"from": "+380501234563"}), (answer("Yes, please"),)),
    ("inbound-without-channel", inbound(channel=None), (answer("Yes, please"),)),
    ("inbound-other-channel", inbound(channel="whatsapp"), ()),
    ("inbound-image", inbound(message_type="image", image={"url": "https://x.test/a.jpg"}), ()),
]


def tampered() -> Inbound:
    original = msgspec.json.encode(status("rejected", error=error(1300)))
    forged = msgspec.json.encode(status("delivered"))
    return Inbound(SENDER, {"authorization": token(original)}, forged)


# made as each case runs: a token is only as fresh as its iat
REFUSED_CASES: list[tuple[str, Callable[[], Inbound]]] = [
    ("no-header", lambda: Inbound(SENDER, {}, msgspec.json.encode(status("delivered")))),
    ("basic-scheme", lambda: Inbound(SENDER, {"authorization": BASIC}, b"{}")),
    ("wrong-secret", signed_then(status("delivered"), secret="not-the-secret")),
    ("tampered-body", tampered),
    ("stale-iat", lambda: signed(status("delivered"), iat=time.time() - 301)),
    ("iat-from-the-future", lambda: signed(status("delivered"), iat=time.time() + 600)),
    ("no-iat", signed_then(status("delivered"), claims={"iat": None})),
    ("expired-exp", lambda: signed(status("delivered"), claims={"exp": int(time.time()) - 1})),
    ("no-payload-hash", signed_then(status("delivered"), claims={"payload_hash": None})),
    ("alg-none", signed_then(status("delivered"), alg="none")),
    ("other-account", signed_then(status("delivered"), claims={"api_key": "someone-else"})),
    ("garbage-token", lambda: Inbound(SENDER, {"authorization": "Bearer not-a-jwt"}, b"{}")),
    ("bad-base64", lambda: Inbound(SENDER, {"authorization": "Bearer a.b!.c"}, b"{}")),
    (
        "no-secret-configured",
        lambda: Inbound(
            Sender("acct-1", SENDER.token),
            {"authorization": token(b"{}")},
            b"{}",
        ),
    ),
]


MALFORMED_CASES: list[tuple[str, bytes]] = [
    ("not-json", b"not json"),
    ("array", b"[]"),
    (
        "no-uuid",
        msgspec.json.encode({k: v for k, v in status("delivered").items() if k != "message_uuid"}),
    ),
    ("empty-uuid", msgspec.json.encode(status("delivered", message_uuid=""))),
    ("bad-timestamp", msgspec.json.encode(status("delivered", timestamp="yesterday"))),
    ("naive-timestamp", msgspec.json.encode(status("delivered", timestamp="2020-01-01T14:00:00"))),
    ("status-not-string", msgspec.json.encode(status("delivered", status=3))),
    ("inbound-without-sender", msgspec.json.encode(inbound(**{"from": None}))),
    ("inbound-sender-not-a-number", msgspec.json.encode(inbound(**{"from": "someone"}))),
    ("inbound-bad-timestamp", msgspec.json.encode(inbound(timestamp="now"))),
]


HOOK_CASES = [
    *(
        cases.HookCase(label, signed_then(payload), 200, events)
        for label, payload, events in EVENT_CASES
    ),
    cases.HookCase(
        "fresh within five minutes",
        lambda: signed(status("delivered"), iat=time.time() - 290),
        200,
        (report("delivered"),),
    ),
    *(
        cases.HookCase(label, inbound, 401, body={"error": "bad signature"})
        for label, inbound in REFUSED_CASES
    ),
    cases.HookCase(
        "forged bearer",
        Inbound(SENDER, {"authorization": "Bearer x.y.z"}, b"{}"),
        401,
        body={"error": "bad signature"},
    ),
    cases.HookCase(
        "forged with a wrong secret",
        Inbound(SENDER, {"authorization": token(b"{}", "wrong")}, b"{}"),
        401,
        body={"error": "bad signature"},
    ),
    cases.HookCase(
        "signed for another body",
        Inbound(SENDER, {"authorization": token(b"{}")}, b"not json"),
        401,
        body={"error": "bad signature"},
    ),
    *(
        cases.HookCase(label, signed_then(body), 400, body={"error": "malformed status"})
        for label, body in MALFORMED_CASES
    ),
]


@pytest.mark.parametrize("case", HOOK_CASES, ids=cases.ids)
async def test_webhook(case: cases.HookCase) -> None:
    await cases.run_hook(WEBHOOK_ROUTE.handler, case, VONAGE.secrets)


async def test_channel_route_falls_back_to_the_installation_secret() -> None:
    channel = ViberBusinessChannel(signature_secret=SIGNATURE_SECRET)
    body = msgspec.json.encode(status("read"))
    bare = Inbound(Sender("viber_business", ""), {"authorization": token(body)}, body)
    (route,) = channel.routes
    assert (await route.handler(bare)).events == (report("read"),)
    assert (await WEBHOOK_ROUTE.handler(bare)).status == 401  # no secret: nothing believed
    await channel.aclose()
