"""The Viber Business adapter (Vonage Messages API) against a mocked transport, and its
status webhook, table-driven.

Every test that talks to "Vonage" declares the exchanges it expects (tests/mock_transport.py).
Webhook tokens are made here with a few lines of `hmac`, independently of the code under test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
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
    handle_webhook,
)
from cascade.domain.events import DeliveryReport, Event
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

API_KEY = "a1b2c3d4"
API_SECRET = "Z9y8X7w6V5u4T3s2"
SIGNATURE_SECRET = "sig-secret-0123456789abcdef0123456789abcdef"
SERVICE_ID = "16273"
BASE = "https://vonage.test"
SENDER = Sender(id="acct-1", token=f"{API_KEY}:{API_SECRET}", webhook_secret=SIGNATURE_SECRET)
MESSAGE_UUID = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
BASIC = "Basic " + base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()

# --- the runner ----------------------------------------------------------------------------


@pytest.fixture
def vonage() -> Iterator[MockApi]:
    with scripted("/v1/messages") as api:
        yield api


@pytest.fixture
async def channel(vonage: MockApi) -> AsyncIterator[ViberBusinessChannel]:
    def make(client: httpx.AsyncClient) -> ViberBusinessChannel:
        return ViberBusinessChannel(base_url=BASE, service_id=SERVICE_ID, client=client)

    async with channel_on(vonage, make) as channel:
        yield channel


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
    assert LIMITS.carries_survey is False
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


# --- sending: exact request bodies ---------------------------------------------------------------

IMAGE = "https://shop.test/sale.jpg"

BODY_CASES: list[tuple[str, Outbound, dict[str, Any]]] = [
    (
        "transaction-text",
        outbound(),
        {
            "message_type": "text",
            "text": "Your order #12345 has been confirmed",
            "to": "380501234563",
            "from": SERVICE_ID,
            "channel": "viber_service",
            "client_ref": "att-1",
            "viber_service": {"category": "transaction", "ttl": 3600},
        },
    ),
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
        {
            "message_type": "image",
            "image": {"url": IMAGE, "caption": "Spring sale: -30%"},
            "to": "380501234563",
            "from": SERVICE_ID,
            "channel": "viber_service",
            "client_ref": "att-1",
            "viber_service": {
                "category": "promotion",
                "ttl": 259_200,
                "action": {"url": "https://shop.test/sale", "text": "Shop now"},
            },
        },
    ),
    (
        "promo-text-only",
        outbound(text="Spring sale", message_type="promo"),
        {
            "message_type": "text",
            "text": "Spring sale",
            "to": "380501234563",
            "from": SERVICE_ID,
            "channel": "viber_service",
            "client_ref": "att-1",
            "viber_service": {"category": "promotion", "ttl": 3600},
        },
    ),
    (
        "promo-text-button",
        outbound(
            text="Spring sale",
            message_type="promo",
            button_text="Shop now",
            button_url="https://shop.test/sale",
        ),
        {
            "message_type": "text",
            "text": "Spring sale",
            "to": "380501234563",
            "from": SERVICE_ID,
            "channel": "viber_service",
            "client_ref": "att-1",
            "viber_service": {
                "category": "promotion",
                "ttl": 3600,
                "action": {"url": "https://shop.test/sale", "text": "Shop now"},
            },
        },
    ),
    (
        "ttl-clamped-to-three-days",
        outbound(ttl=2_592_000),
        {
            "message_type": "text",
            "text": "Your order #12345 has been confirmed",
            "to": "380501234563",
            "from": SERVICE_ID,
            "channel": "viber_service",
            "client_ref": "att-1",
            "viber_service": {"category": "transaction", "ttl": MAX_TTL_S},
        },
    ),
    (
        "ttl-at-the-minimum",
        outbound(ttl=30, message_type="viber_survey"),
        {
            "message_type": "text",
            "text": "Your order #12345 has been confirmed",
            "to": "380501234563",
            "from": SERVICE_ID,
            "channel": "viber_service",
            "client_ref": "att-1",
            "viber_service": {"category": "transaction", "ttl": 30},
        },
    ),
    (
        "button-label-cut-to-30",
        outbound(text="Sale", message_type="promo", button_text="B" * 40, button_url="https://b"),
        {
            "message_type": "text",
            "text": "Sale",
            "to": "380501234563",
            "from": SERVICE_ID,
            "channel": "viber_service",
            "client_ref": "att-1",
            "viber_service": {
                "category": "promotion",
                "ttl": 3600,
                "action": {"url": "https://b", "text": "B" * 30},
            },
        },
    ),
]


@pytest.mark.parametrize(("case", "out", "body"), BODY_CASES, ids=[c[0] for c in BODY_CASES])
async def test_request_is_exact(
    channel: ViberBusinessChannel,
    vonage: MockApi,
    case: str,
    out: Outbound,
    body: dict[str, Any],
) -> None:
    vonage.expect(Exchange(accepted()))
    assert await channel.send(out) == Sent(MESSAGE_UUID)
    request = vonage.requests[0]
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/v1/messages"
    assert request.headers["Authorization"] == BASIC
    assert request.headers["Content-Type"] == "application/json"
    assert vonage.only_body == body


async def test_installation_credentials_when_the_sender_has_none(vonage: MockApi) -> None:
    client = vonage.client()
    channel = ViberBusinessChannel(
        base_url=BASE, api_key="k2", api_secret="s2", service_id="999", client=client
    )
    vonage.expect(Exchange(accepted()), Exchange(accepted()))
    assert await channel.send(outbound(sender=Sender("viber_business", ""))) == Sent(MESSAGE_UUID)
    # a sender's own account, with its own service id, wins
    own = Sender("acct-2", f"{API_KEY}:{API_SECRET}:777")
    assert await channel.send(outbound(sender=own)) == Sent(MESSAGE_UUID)
    first, second = vonage.requests
    assert first.headers["Authorization"] == "Basic " + base64.b64encode(b"k2:s2").decode()
    assert json.loads(first.content)["from"] == "999"
    assert second.headers["Authorization"] == BASIC
    assert json.loads(second.content)["from"] == "777"
    await client.aclose()


WITH_SERVICE: dict[str, str] = {"service_id": SERVICE_ID}

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
]


@pytest.mark.parametrize(
    ("case", "config", "out", "expected"), LOCAL_CASES, ids=[c[0] for c in LOCAL_CASES]
)
async def test_refused_before_sending(
    channel: ViberBusinessChannel,
    vonage: MockApi,
    case: str,
    config: dict[str, str],
    out: Outbound,
    expected: Outcome,
) -> None:
    local = ViberBusinessChannel(base_url=BASE, client=channel._client, **config)
    assert await local.send(out) == expected
    assert vonage.requests == []  # the runner fails on any request at all


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


@pytest.mark.parametrize(
    ("case", "reply", "expected"), ANSWER_CASES, ids=[c[0] for c in ANSWER_CASES]
)
async def test_every_answer_maps(
    channel: ViberBusinessChannel,
    vonage: MockApi,
    case: str,
    reply: httpx.Response | Exception,
    expected: Outcome,
) -> None:
    vonage.expect(Exchange(reply))
    assert await channel.send(outbound()) == expected


async def test_credentials_never_logged(
    channel: ViberBusinessChannel, vonage: MockApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    replies = [c[1] for c in ANSWER_CASES]
    vonage.expect(*(Exchange(r) for r in replies))
    for _ in replies:
        await channel.send(outbound())
    for forged in (
        Inbound(SENDER, {"authorization": "Bearer x.y.z"}, b"{}"),
        Inbound(SENDER, {"authorization": token(b"{}", "wrong")}, b"{}"),
        Inbound(SENDER, {"authorization": token(b"{}")}, b"not json"),
    ):
        assert (await handle_webhook(forged)).status in (400, 401)
    assert caplog.records, "the faults above should have been logged"
    for secret in (API_SECRET, SIGNATURE_SECRET, BASIC.split()[1]):
        assert secret not in caplog.text


def test_runner_rejects_surprises_and_leftovers() -> None:
    mock = MockApi("/v1/messages")
    with pytest.raises(AssertionError, match="unexpected request"):
        mock.handle(httpx.Request("POST", f"{BASE}/v1/messages"))
    mock.expect(Exchange(accepted()))
    with pytest.raises(AssertionError, match="never made"):
        mock.assert_done()


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


def report(state: str, reason: str | None = None) -> DeliveryReport:
    return DeliveryReport("viber_business", MESSAGE_UUID, state, AT_MS, reason)  # type: ignore[arg-type]


WEBHOOK_CASES: list[tuple[str, dict[str, Any], tuple[Event, ...]]] = [
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
]


@pytest.mark.parametrize(
    ("case", "payload", "events"), WEBHOOK_CASES, ids=[c[0] for c in WEBHOOK_CASES]
)
async def test_webhook_events(
    case: str, payload: dict[str, Any], events: tuple[Event, ...]
) -> None:
    reply = await WEBHOOK_ROUTE.handler(signed(payload))
    assert (reply.status, reply.events) == (200, events)


def tampered() -> Inbound:
    original = msgspec.json.encode(status("rejected", error=error(1300)))
    forged = msgspec.json.encode(status("delivered"))
    return Inbound(SENDER, {"authorization": token(original)}, forged)


REFUSED_CASES: list[tuple[str, Inbound]] = [
    ("no-header", Inbound(SENDER, {}, msgspec.json.encode(status("delivered")))),
    ("basic-scheme", Inbound(SENDER, {"authorization": BASIC}, b"{}")),
    ("wrong-secret", signed(status("delivered"), secret="not-the-secret")),
    ("tampered-body", tampered()),
    ("stale-iat", signed(status("delivered"), iat=time.time() - 301)),
    ("iat-from-the-future", signed(status("delivered"), iat=time.time() + 600)),
    ("no-iat", signed(status("delivered"), claims={"iat": None})),
    ("expired-exp", signed(status("delivered"), claims={"exp": int(time.time()) - 1})),
    ("no-payload-hash", signed(status("delivered"), claims={"payload_hash": None})),
    ("alg-none", signed(status("delivered"), alg="none")),
    ("other-account", signed(status("delivered"), claims={"api_key": "someone-else"})),
    ("garbage-token", Inbound(SENDER, {"authorization": "Bearer not-a-jwt"}, b"{}")),
    ("bad-base64", Inbound(SENDER, {"authorization": "Bearer a.b!.c"}, b"{}")),
    (
        "no-secret-configured",
        Inbound(
            Sender("acct-1", SENDER.token),
            {"authorization": token(b"{}")},
            b"{}",
        ),
    ),
]


@pytest.mark.parametrize(("case", "inbound"), REFUSED_CASES, ids=[c[0] for c in REFUSED_CASES])
async def test_unverified_webhook_is_refused(case: str, inbound: Inbound) -> None:
    reply = await handle_webhook(inbound)
    assert reply.status == 401
    assert reply.events == ()


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
]


@pytest.mark.parametrize(("case", "body"), MALFORMED_CASES, ids=[c[0] for c in MALFORMED_CASES])
async def test_malformed_webhook_is_400(case: str, body: bytes) -> None:
    reply = await handle_webhook(signed(body))
    assert reply.status == 400
    assert reply.events == ()


async def test_fresh_within_five_minutes() -> None:
    reply = await handle_webhook(signed(status("delivered"), iat=time.time() - 290))
    assert reply.events == (report("delivered"),)


async def test_channel_route_falls_back_to_the_installation_secret() -> None:
    channel = ViberBusinessChannel(signature_secret=SIGNATURE_SECRET)
    body = msgspec.json.encode(status("read"))
    bare = Inbound(Sender("viber_business", ""), {"authorization": token(body)}, body)
    (route,) = channel.routes
    assert (await route.handler(bare)).events == (report("read"),)
    assert (await WEBHOOK_ROUTE.handler(bare)).status == 401  # no secret: nothing believed
    await channel.aclose()
