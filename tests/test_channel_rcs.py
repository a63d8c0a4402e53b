"""The RCS (RBM) adapter against a mocked transport, its OAuth token source, and its webhook.

Every test that talks to "Google" declares the exchanges it expects (tests/mock_transport.py);
the OAuth token endpoint is an `httpx.MockTransport` of its own. No request can leave the machine.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import json
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from cascade.channels.base import Channel, Inbound, Revocable
from cascade.channels.rcs import (
    LIMITS,
    SCOPE,
    WEBHOOK_ROUTE,
    AuthError,
    RcsChannel,
    ServiceAccountTokens,
    handle_webhook,
    rfc3339,
    rfc3339_ms,
    signature,
    survey_postback,
    webhook_handler,
)
from cascade.clock import ManualClock
from cascade.domain.content import ContentKind
from cascade.domain.events import DeliveryReport, Event, InboundMessage, SurveyAnswer
from cascade.domain.sending import (
    Failed,
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
from tests.mock_transport import Exchange, MockApi, channel_on, scripted
from tests.outbound import outbound_to

TOKEN = "ya29.a0AfH6SMBx-test-access-token-1"
TOKEN_2 = "ya29.a0AfH6SMBx-test-access-token-2"
AGENT = "cascade_demo_agent"
BASE = "https://rbm.test/v1"
CLIENT_TOKEN = "SJENCPGJESMGUFPY"
SENDER = Sender(id="rcs-1", token="", webhook_secret=CLIENT_TOKEN)
PHONE = "+380501234564"
ATTEMPT = "0b7f3a52-3c1e-4b5e-9a55-2f0d3c1b9e11"
MESSAGE = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
LONG_OPTION = "Very good, would come back soon"  # 31 characters
NOW_MS = ManualClock().now_ms()  # 2026-01-01T00:00:00Z
CAP_PATH = f"/v1/phones/{PHONE}/capabilities"
SEND_PATH = f"/v1/phones/{PHONE}/agentMessages"


# --- a token source that hands out fixed tokens ------------------------------------------------


@dataclass
class FakeTokens:
    tokens: list[str] = field(default_factory=lambda: [TOKEN, TOKEN_2])
    error: AuthError | None = None
    asked: int = 0
    invalidated: int = 0

    async def token(self) -> str:
        self.asked += 1
        if self.error is not None:
            raise self.error
        return self.tokens[min(self.invalidated, len(self.tokens) - 1)]

    def invalidate(self) -> None:
        self.invalidated += 1


# --- the runner --------------------------------------------------------------------------------


@pytest.fixture
def rbm() -> Iterator[MockApi]:
    with scripted(SEND_PATH) as api:
        yield api


@pytest.fixture
def tokens() -> FakeTokens:
    return FakeTokens()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def channel(
    rbm: MockApi, tokens: FakeTokens, clock: ManualClock
) -> AsyncIterator[RcsChannel]:
    def make(client: httpx.AsyncClient) -> RcsChannel:
        return RcsChannel(
            BASE, agent_id=AGENT, tokens=tokens, client=client, capability_ttl_s=60, clock=clock
        )

    async with channel_on(rbm, make) as channel:
        yield channel


def google_error(code: int, status: str, **headers: str) -> httpx.Response:
    body = {"error": {"code": code, "message": "…", "status": status}}
    return httpx.Response(code, json=body, headers=headers)


def capable(phone: str = PHONE) -> Exchange:
    features = ["RICHCARD_STANDALONE", "ACTION_OPEN_URL"]
    return Exchange(
        httpx.Response(200, json={"features": features}), f"/v1/phones/{phone}/capabilities", "GET"
    )


def not_capable(phone: str = PHONE) -> Exchange:
    return Exchange(google_error(404, "NOT_FOUND"), f"/v1/phones/{phone}/capabilities", "GET")


def created(phone: str = PHONE, answer: httpx.Response | Exception | None = None) -> Exchange:
    reply = answer if answer is not None else httpx.Response(200, json={"name": "x"})
    return Exchange(reply, f"/v1/phones/{phone}/agentMessages", "POST")


def outbound(
    phone: str = PHONE,
    *,
    text: str = "Your order #12345 has been confirmed",
    message_type: str = "transaction",
    options: tuple[str, ...] = (),
    ttl: int = 3600,
    attempt_id: str = ATTEMPT,
    image_url: str | None = None,
    button_text: str | None = None,
    button_url: str | None = None,
) -> Outbound:
    return outbound_to(
        phone,
        SENDER,
        attempt_id=attempt_id,
        message_id=MESSAGE,
        text=text,
        message_type=message_type,
        survey_options=options,
        ttl_remaining_s=ttl,
        image_url=image_url,
        button_text=button_text,
        button_url=button_url,
    )


# --- what the channel is -----------------------------------------------------------------------


def test_channel_declares_its_limits_and_route() -> None:
    channel: Channel = RcsChannel(agent_id=AGENT, tokens=FakeTokens())
    assert channel.name == "rcs"
    assert channel.limits == LIMITS
    assert isinstance(channel, Revocable)
    assert LIMITS.max_text == 3072
    assert LIMITS.confirms_delivery is True
    assert ContentKind.SURVEY in LIMITS.carries
    assert {ContentKind.IMAGE, ContentKind.BUTTONS} <= LIMITS.carries
    assert LIMITS.delivery_window_s == 600
    assert RcsChannel.routes == (WEBHOOK_ROUTE,)
    assert WEBHOOK_ROUTE.channel == "rcs"


async def test_owned_client_is_closed() -> None:
    channel = RcsChannel(agent_id=AGENT, tokens=FakeTokens())
    await channel.aclose()
    assert channel._client.is_closed


def test_rfc3339_is_utc_with_milliseconds() -> None:
    assert rfc3339(NOW_MS) == "2026-01-01T00:00:00.000Z"
    assert rfc3339(NOW_MS + 3_600_000 + 7) == "2026-01-01T01:00:00.007Z"


# --- sending -----------------------------------------------------------------------------------

CAPABLE = httpx.Response(200, json={"features": ["RICHCARD_STANDALONE", "ACTION_OPEN_URL"]})
CREATED = httpx.Response(200, json={"name": "x"})
UNAUTHENTICATED = google_error(401, "UNAUTHENTICATED")

SEND_CASES: list[tuple[str, httpx.Response | Exception, Outcome]] = [
    ("200", httpx.Response(200, json={"name": "x"}), Sent(ATTEMPT)),
    ("200-empty", httpx.Response(200), Sent(ATTEMPT)),
    # a repeat of an attempt whose first answer was lost: RBM has the message already
    ("409-already-exists", google_error(409, "ALREADY_EXISTS"), Sent(ATTEMPT)),
    ("404-no-rcs", google_error(404, "NOT_FOUND"), Unreachable("NO_RCS")),
    ("429", google_error(429, "RESOURCE_EXHAUSTED"), Throttled(1.0, "RESOURCE_EXHAUSTED")),
    ("429-retry-after", google_error(429, "RESOURCE_EXHAUSTED", **{"Retry-After": "7"}),
     Throttled(7.0, "RESOURCE_EXHAUSTED")),
    ("403", google_error(403, "PERMISSION_DENIED"), Misconfigured("PERMISSION_DENIED")),
    ("400", google_error(400, "INVALID_ARGUMENT"), Failed("INVALID_ARGUMENT")),
    ("400-no-body", httpx.Response(400), Failed("HTTP_400")),
    ("400-odd-status", httpx.Response(400, json={"error": {"status": "<b>x</b>"}}),
     Failed("HTTP_400")),
    ("500", google_error(500, "INTERNAL"), Retry("INTERNAL")),
    ("503-html", httpx.Response(503, text="<html>down</html>"), Retry("HTTP_503")),
    ("301", httpx.Response(301, headers={"Location": "https://x"}), Misconfigured("HTTP_301")),
    # a lost answer is retried: the same messageId cannot deliver twice
    ("read-timeout", httpx.ReadTimeout("slow"), Retry("NO_ANSWER:ReadTimeout")),
    ("reset", httpx.RemoteProtocolError("reset"), Retry("NO_ANSWER:RemoteProtocolError")),
    ("connect-error", httpx.ConnectError("refused"), Retry("NETWORK:ConnectError")),
    ("connect-timeout", httpx.ConnectTimeout("slow"), Retry("NETWORK:ConnectTimeout")),
]  # fmt: skip


CAPABILITY_CASES: list[tuple[str, httpx.Response | Exception, Outcome]] = [
    ("404-no-rcs", google_error(404, "NOT_FOUND"), Unreachable("NO_RCS")),
    ("429", google_error(429, "RESOURCE_EXHAUSTED"), Throttled(1.0, "RESOURCE_EXHAUSTED")),
    ("403", google_error(403, "PERMISSION_DENIED"), Misconfigured("PERMISSION_DENIED")),
    ("400", google_error(400, "INVALID_ARGUMENT"), Failed("INVALID_ARGUMENT")),
    ("500", google_error(500, "INTERNAL"), Retry("INTERNAL")),
    ("read-timeout", httpx.ReadTimeout("slow"), Retry("NO_ANSWER:ReadTimeout")),
    ("connect-error", httpx.ConnectError("refused"), Retry("NETWORK:ConnectError")),
]


RBM = cases.HttpBench(
    origin="https://rbm.test",
    make=lambda client, **config: RcsChannel(BASE, client=client, **{**CHANNEL, **config}),
    secrets=(TOKEN, TOKEN_2, CLIENT_TOKEN),
    headers={"Authorization": f"Bearer {TOKEN}"},
)
CHANNEL: dict[str, Any] = {
    "agent_id": AGENT,
    "tokens": FakeTokens(),  # a fresh one per case: see `send`
    "capability_ttl_s": 60,
    "clock": ManualClock(),
}


def check(
    answer: httpx.Response | Exception = CAPABLE, phone: str = PHONE, token: str = TOKEN
) -> cases.Call:
    """The capability check, with a fresh request id."""
    path = f"/v1/phones/{phone}/capabilities"
    query = {"agentId": AGENT, "requestId": cases.UUID}
    return cases.Call(
        answer, "GET", path, query=query, headers={"Authorization": f"Bearer {token}"}
    )


def create(
    answer: httpx.Response | Exception = CREATED,
    *,
    token: str = TOKEN,
    body: dict[str, Any] | None = None,
    **fields: object,
) -> cases.Call:
    """The message's creation, its id the attempt's."""
    return cases.Call(
        answer,
        "POST",
        SEND_PATH,
        query={"messageId": ATTEMPT, "agentId": AGENT},
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        body=body,
        fields=fields,
    )


def send(
    label: str, out: Outbound, calls: list[cases.Call], expected: Outcome, **config: Any
) -> cases.HttpCase:
    return cases.SendCase(label, out, calls, expected, {"tokens": FakeTokens(), **config})


NO_TOKEN: list[tuple[AuthError, Outcome]] = [
    (AuthError("TOKEN_INVALID_GRANT", retryable=False), Misconfigured("TOKEN_INVALID_GRANT")),
    (AuthError("TOKEN_ENDPOINT_UNREACHABLE", retryable=True), Retry("TOKEN_ENDPOINT_UNREACHABLE")),
]

CARD_BUTTON = {
    "action": {
        "text": "Shop now",
        "postbackData": f"cascade-open|{MESSAGE}",
        "openUrlAction": {"url": "https://shop.test/sale"},
    }
}
LONG_TEXT = "y" * 2500  # a card's description holds 2000 characters


def card(**content: Any) -> dict[str, Any]:
    return {"richCard": {"standaloneCard": {"cardOrientation": "VERTICAL", "cardContent": content}}}


def sale(
    image_url: str | None = None, button_text: str | None = None, button_url: str | None = None
) -> Outbound:
    return outbound(
        text="Sale",
        message_type="promo",
        image_url=image_url,
        button_text=button_text,
        button_url=button_url,
    )


CASES = [
    send(
        "checks capability then creates",
        outbound(),
        [
            check(),
            create(
                body={
                    "contentMessage": {"text": "Your order #12345 has been confirmed"},
                    "messageTrafficType": "TRANSACTION",
                    "expireTime": "2026-01-01T01:00:00.000Z",
                }
            ),
        ],
        Sent(ATTEMPT),
    ),
    send(
        "expire time is the remaining ttl",
        outbound(ttl=90),
        [check(), create(expireTime="2026-01-01T00:02:00.250Z")],
        Sent(ATTEMPT),
        clock=ManualClock(now_ms=NOW_MS + 30_250),
    ),
    *(
        send(f"create {label}", outbound(), [check(), create(reply)], expected)
        for label, reply, expected in SEND_CASES
    ),
    # nothing is created
    *(
        send(f"capability {label}", outbound(), [check(reply)], expected)
        for label, reply, expected in CAPABILITY_CASES
    ),
    send(
        "401 twice is misconfigured",
        outbound(),
        [check(UNAUTHENTICATED), check(UNAUTHENTICATED, token=TOKEN_2)],  # a fresh token
        Misconfigured("UNAUTHENTICATED"),
    ),
    *(
        send(f"no token: {error.reason}", outbound(), [], expected, tokens=FakeTokens(error=error))
        for error, expected in NO_TOKEN
    ),
    # content it cannot carry sends nothing
    send("too long", outbound(text="x" * 3073), [], Failed("TEXT_TOO_LONG")),
    send("no text", outbound(text=""), [], Failed("NO_TEXT")),
    send("no ttl left", outbound(ttl=0), [], Failed("TTL_EXPIRED")),
    send("text of 3072 is sent", outbound(text="x" * 3072), [check(), create()], Sent(ATTEMPT)),
    # what the message looks like
    send(
        "survey options are suggested replies",
        outbound(text="Rate us", message_type="viber_survey", options=("Good", LONG_OPTION)),
        [
            check(),
            create(
                messageTrafficType="TRANSACTION",
                contentMessage={
                    "text": "Rate us",
                    "suggestions": [  # a chip shows 25 characters
                        {
                            "reply": {
                                "text": "Good",
                                "postbackData": survey_postback(MESSAGE, "Good"),
                            }
                        },
                        {
                            "reply": {
                                "text": "Very good, would come ba…",
                                "postbackData": survey_postback(MESSAGE, LONG_OPTION),
                            }
                        },
                    ],
                },
            ),
        ],
        Sent(ATTEMPT),
    ),
    send(
        "promo with media is a rich card",
        outbound(
            text="Spring sale: -20% on everything",
            message_type="promo",
            image_url="https://shop.test/spring.jpg",
            button_text="Shop now",
            button_url="https://shop.test/sale",
        ),
        [
            check(),
            create(
                messageTrafficType="PROMOTION",
                contentMessage=card(
                    description="Spring sale: -20% on everything",
                    media={
                        "height": "MEDIUM",
                        "contentInfo": {"fileUrl": "https://shop.test/spring.jpg"},
                    },
                    suggestions=[CARD_BUTTON],
                ),
            ),
        ],
        Sent(ATTEMPT),
    ),
    send(
        "promo image only",
        sale(image_url="https://shop.test/a.png"),
        [
            check(),
            create(
                contentMessage=card(
                    description="Sale",
                    media={
                        "height": "MEDIUM",
                        "contentInfo": {"fileUrl": "https://shop.test/a.png"},
                    },
                )
            ),
        ],
        Sent(ATTEMPT),
    ),
    send(
        "promo button only",
        sale(button_url="https://shop.test/s"),
        [
            check(),
            create(
                contentMessage=card(
                    description="Sale",
                    suggestions=[
                        {
                            "action": {
                                "text": "Open",
                                "postbackData": f"cascade-open|{MESSAGE}",
                                "openUrlAction": {"url": "https://shop.test/s"},
                            }
                        }
                    ],
                )
            ),
        ],
        Sent(ATTEMPT),
    ),
    send(
        "promo button without url",  # a button that opens nothing
        sale(button_text="Shop now"),
        [check(), create(contentMessage={"text": "Sale"})],
        Sent(ATTEMPT),
    ),
    send(
        "promo too long for a card is text with a chip",
        outbound(
            text=LONG_TEXT,
            message_type="promo",
            image_url="https://shop.test/a.png",
            button_text="A button with a rather long label",
            button_url="https://shop.test/s",
        ),
        [
            check(),
            create(
                contentMessage={
                    "text": LONG_TEXT + "\nhttps://shop.test/a.png",
                    "suggestions": [
                        {
                            "action": {
                                "text": "A button with a rather l…",
                                "postbackData": f"cascade-open|{MESSAGE}",
                                "openUrlAction": {"url": "https://shop.test/s"},
                            }
                        }
                    ],
                }
            ),
        ],
        Sent(ATTEMPT),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=cases.ids)
async def test_send(case: cases.HttpCase) -> None:
    await cases.run_send(RBM, case)


async def test_unsupported_base_url_is_misconfigured(tokens: FakeTokens) -> None:
    channel = RcsChannel("ftp://rbm.test/v1", agent_id=AGENT, tokens=tokens)
    assert await channel.send(outbound()) == Misconfigured("INVALID_BASE_URL")
    await channel.aclose()


async def test_401_gets_one_retry_with_a_fresh_token(
    channel: RcsChannel, rbm: MockApi, tokens: FakeTokens
) -> None:
    rbm.expect(capable(), created(answer=google_error(401, "UNAUTHENTICATED")), created())
    assert await channel.send(outbound()) == Sent(ATTEMPT)
    assert tokens.invalidated == 1
    auths = [r.headers["Authorization"] for r in rbm.requests]
    assert auths == [f"Bearer {TOKEN}", f"Bearer {TOKEN}", f"Bearer {TOKEN_2}"]
    # the retry is the very same message: same messageId
    assert {r.url.params["messageId"] for r in rbm.requests[1:]} == {ATTEMPT}


# --- the capability cache ------------------------------------------------------------------------


async def test_capability_is_cached_until_it_expires(
    channel: RcsChannel, rbm: MockApi, clock: ManualClock
) -> None:
    other = str(uuid.uuid4())
    rbm.expect(capable(), created(), created())
    assert await channel.send(outbound()) == Sent(ATTEMPT)
    assert await channel.send(outbound(attempt_id=other)) == Sent(other)  # no second check
    clock.advance(59)
    rbm.expect(created())
    await channel.send(outbound())
    clock.advance(2)  # 61 s after the check: asked again
    rbm.expect(capable(), created())
    await channel.send(outbound())
    assert [r.method for r in rbm.requests] == ["GET", "POST", "POST", "POST", "GET", "POST"]


async def test_no_rcs_is_cached_too(channel: RcsChannel, rbm: MockApi, clock: ManualClock) -> None:
    rbm.expect(not_capable())
    assert await channel.send(outbound()) == Unreachable("NO_RCS")
    assert await channel.send(outbound()) == Unreachable("NO_RCS")  # no request at all
    clock.advance(61)
    rbm.expect(capable(), created())
    assert await channel.send(outbound()) == Sent(ATTEMPT)


async def test_404_on_create_is_remembered(channel: RcsChannel, rbm: MockApi) -> None:
    rbm.expect(capable(), created(answer=google_error(404, "NOT_FOUND")))
    assert await channel.send(outbound()) == Unreachable("NO_RCS")
    assert await channel.send(outbound()) == Unreachable("NO_RCS")
    assert len(rbm.requests) == 2


async def test_failed_checks_are_not_cached(channel: RcsChannel, rbm: MockApi) -> None:
    rbm.expect(Exchange(google_error(503, "UNAVAILABLE"), CAP_PATH, "GET"), capable(), created())
    assert await channel.send(outbound()) == Retry("UNAVAILABLE")
    assert await channel.send(outbound()) == Sent(ATTEMPT)


async def test_cache_is_bounded(rbm: MockApi, tokens: FakeTokens, clock: ManualClock) -> None:
    client = rbm.client()
    channel = RcsChannel(
        BASE, agent_id=AGENT, tokens=tokens, client=client, clock=clock, cache_size=2
    )
    phones = ["+380501234561", "+380501234562", "+380501234563"]
    rbm.expect(*(not_capable(p) for p in phones))
    for phone in phones:
        assert await channel.capable(phone) is False
    rbm.expect(not_capable(phones[0]))  # the oldest answer was dropped
    assert await channel.capable(phones[0]) is False
    assert await channel.capable(phones[2]) is False  # still cached
    await client.aclose()


# --- revoking ------------------------------------------------------------------------------------

REVOKE_PATH = f"/v1/phones/{PHONE}/agentMessages/{ATTEMPT}"

REVOKE_CASES: list[tuple[str, httpx.Response | Exception, str]] = [
    ("200-revoked", httpx.Response(200, json={}), "revoked"),
    ("404-delivered", google_error(404, "NOT_FOUND"), "delivered"),
    ("500", google_error(500, "INTERNAL"), "failed"),
    ("403", google_error(403, "PERMISSION_DENIED"), "failed"),
    ("connect-error", httpx.ConnectError("refused"), "failed"),
]


@pytest.mark.parametrize(
    ("case", "reply", "expected"), REVOKE_CASES, ids=[c[0] for c in REVOKE_CASES]
)
async def test_revoke(
    channel: RcsChannel, rbm: MockApi, case: str, reply: httpx.Response | Exception, expected: str
) -> None:
    rbm.expect(Exchange(reply, REVOKE_PATH, "DELETE"))
    with cases.captured_logs() as records:
        assert await channel.revoke_message(PHONE, ATTEMPT) == expected
    assert records, "a revocation is logged"
    cases.assert_kept(RBM.secrets, records, expected, case)
    request = rbm.requests[0]
    assert dict(request.url.params) == {"agentId": AGENT}
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.content == b""


async def test_revoke_for_the_engine_never_raises(
    channel: RcsChannel, rbm: MockApi, tokens: FakeTokens
) -> None:
    rbm.expect(Exchange(httpx.ReadTimeout("slow"), REVOKE_PATH, "DELETE"))
    await channel.revoke(SENDER, PHONE, ATTEMPT)
    tokens.error = AuthError("TOKEN_INVALID_GRANT", retryable=False)
    await channel.revoke(SENDER, PHONE, ATTEMPT)  # no token: nothing sent, nothing raised
    assert len(rbm.requests) == 1


# --- service-account OAuth through google-auth ----------------------------------------------------

TOKEN_URI = "https://oauth.test/token"
ACCOUNT = "cascade-rbm@rbm-test.iam.gserviceaccount.com"


@functools.cache
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def key() -> rsa.RSAPrivateKey:
    return signing_key()


def key_info(key: rsa.RSAPrivateKey) -> dict[str, str]:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": "rbm-test",
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": pem,
        "client_email": ACCOUNT,
        "client_id": "123456789012345678901",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


@dataclass
class TokenEndpoint:
    """A mocked OAuth token endpoint: answers in order, records the grants it saw."""

    answers: list[httpx.Response | Exception] = field(default_factory=list)
    grants: list[dict[str, str]] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if not self.answers:
            raise AssertionError("unexpected token request")
        self.urls.append(str(request.url))
        assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        form = dict(urllib.parse.parse_qsl(request.content.decode()))
        self.grants.append(form)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def issued(token: str = TOKEN, expires_in: int = 3600) -> httpx.Response:
    return httpx.Response(
        200, json={"access_token": token, "expires_in": expires_in, "token_type": "Bearer"}
    )


def _b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@pytest.fixture
def endpoint() -> Iterator[TokenEndpoint]:
    mock = TokenEndpoint()
    yield mock
    assert not mock.answers, "an expected token request never came"


def token_source(
    key: rsa.RSAPrivateKey, endpoint: TokenEndpoint, clock: ManualClock
) -> ServiceAccountTokens:
    http = httpx.Client(transport=httpx.MockTransport(endpoint.handle))
    return ServiceAccountTokens.from_info(
        key_info(key), token_uri=TOKEN_URI, http=http, clock=clock
    )


async def test_jwt_grant_is_real_and_signed(
    key: rsa.RSAPrivateKey, endpoint: TokenEndpoint, clock: ManualClock
) -> None:
    endpoint.answers = [issued()]
    source = token_source(key, endpoint, clock)
    assert await source.token() == TOKEN
    assert endpoint.urls == [TOKEN_URI]  # the configured endpoint, not Google's
    (grant,) = endpoint.grants
    assert grant["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    head, payload, sig = grant["assertion"].split(".")
    header = json.loads(_b64url(head))
    claims = json.loads(_b64url(payload))
    assert header["alg"] == "RS256"
    assert header["kid"] == "0123456789abcdef0123456789abcdef01234567"
    assert claims["iss"] == ACCOUNT
    assert claims["scope"] == SCOPE
    assert claims["exp"] - claims["iat"] == 3600
    key.public_key().verify(
        _b64url(sig), f"{head}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    assert source.account == ACCOUNT


async def test_token_is_cached_until_shortly_before_expiry(
    key: rsa.RSAPrivateKey, endpoint: TokenEndpoint, clock: ManualClock
) -> None:
    endpoint.answers = [issued(TOKEN), issued(TOKEN_2)]
    source = token_source(key, endpoint, clock)
    assert await source.token() == TOKEN
    clock.advance(3290)  # renewed 300 s before the hour is up
    assert await source.token() == TOKEN
    assert len(endpoint.grants) == 1
    clock.advance(20)
    assert await source.token() == TOKEN_2
    assert len(endpoint.grants) == 2


async def test_short_lived_tokens_are_still_reused(
    key: rsa.RSAPrivateKey, endpoint: TokenEndpoint, clock: ManualClock
) -> None:
    endpoint.answers = [issued(TOKEN, expires_in=60), issued(TOKEN_2)]
    source = token_source(key, endpoint, clock)
    assert await source.token() == TOKEN
    clock.advance(25)  # renewed at half its life, not 300 s early
    assert await source.token() == TOKEN
    clock.advance(10)
    assert await source.token() == TOKEN_2


async def test_invalidate_forces_a_new_grant(
    key: rsa.RSAPrivateKey, endpoint: TokenEndpoint, clock: ManualClock
) -> None:
    endpoint.answers = [issued(TOKEN), issued(TOKEN_2)]
    source = token_source(key, endpoint, clock)
    assert await source.token() == TOKEN
    source.invalidate()
    assert await source.token() == TOKEN_2


async def test_concurrent_callers_share_one_grant(
    key: rsa.RSAPrivateKey, endpoint: TokenEndpoint, clock: ManualClock
) -> None:
    endpoint.answers = [issued()]
    source = token_source(key, endpoint, clock)
    assert await asyncio.gather(*(source.token() for _ in range(8))) == [TOKEN] * 8
    assert len(endpoint.grants) == 1


AUTH_FAILURES: list[tuple[str, list[httpx.Response | Exception], AuthError]] = [
    ("invalid-grant",
     [httpx.Response(400, json={"error": "invalid_grant", "error_description": "Invalid JWT"})],
     AuthError("TOKEN_INVALID_GRANT", retryable=False)),
    ("unauthorized-client", [httpx.Response(401, json={"error": "unauthorized_client"})],
     AuthError("TOKEN_UNAUTHORIZED_CLIENT", retryable=False)),
    ("not-json", [httpx.Response(403, text="<html>no</html>")],
     AuthError("TOKEN_REFUSED", retryable=False)),
    ("no-access-token", [httpx.Response(200, json={"expires_in": 3600})],
     AuthError("TOKEN_REFUSED", retryable=False)),
    ("unreachable", [httpx.ConnectError("refused")],
     AuthError("TOKEN_ENDPOINT_UNREACHABLE", retryable=True)),
    ("no-answer", [httpx.ReadTimeout("slow")],
     AuthError("TOKEN_ENDPOINT_UNREACHABLE", retryable=True)),
    # google-auth tries a 5xx three times itself before giving up
    ("5xx", [httpx.Response(503, json={"error": "unavailable"})] * 3,
     AuthError("TOKEN_UNAVAILABLE", retryable=True)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "answers", "expected"), AUTH_FAILURES, ids=[c[0] for c in AUTH_FAILURES]
)
async def test_token_failures(
    key: rsa.RSAPrivateKey,
    endpoint: TokenEndpoint,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    answers: list[httpx.Response | Exception],
    expected: AuthError,
) -> None:
    # google-auth backs off with time.sleep between its own tries: skip the waiting
    monkeypatch.setattr("time.sleep", lambda _s: None)
    endpoint.answers = list(answers)
    source = token_source(key, endpoint, clock)
    with pytest.raises(AuthError) as caught:
        await source.token()
    assert (caught.value.reason, caught.value.retryable) == (expected.reason, expected.retryable)


# the token endpoint's calls are rows too: on the same mocked provider, google-auth's client
LEAKED = "ya29.secret-token-that-must-not-leak"


def with_service_account(client: httpx.AsyncClient, http: httpx.Client) -> RcsChannel:
    clock = ManualClock()
    info = key_info(signing_key())
    tokens = ServiceAccountTokens.from_info(info, token_uri=TOKEN_URI, http=http, clock=clock)
    return RcsChannel(BASE, agent_id=AGENT, tokens=tokens, client=client, clock=clock)


OAUTH = cases.HttpBench(
    origin="https://rbm.test",
    make=with_service_account,
    secrets=(*RBM.secrets, LEAKED, key_info(signing_key())["private_key"].splitlines()[1]),
    sync_client="http",
)


def grant(answer: httpx.Response | Exception) -> cases.Call:
    return cases.Call(
        answer,
        "POST",
        "/token",
        origin="https://oauth.test",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        fields={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer"},
    )


OAUTH_CASES: list[cases.HttpCase] = [
    cases.SendCase(
        "the token endpoint refuses the grant",
        outbound(),
        [grant(httpx.Response(400, json={"error": "invalid_grant", "error_description": LEAKED}))],
        Misconfigured("TOKEN_INVALID_GRANT"),
    ),
    cases.SendCase(
        "the token endpoint is unreachable",
        outbound(),
        [grant(httpx.ConnectError(f"cannot reach https://oauth.test/token?x={LEAKED}"))],
        Retry("TOKEN_ENDPOINT_UNREACHABLE"),
    ),
    cases.SendCase(
        "a 401 gets a fresh token from the real source",
        outbound(),
        [
            grant(issued(TOKEN)),
            check(),
            create(UNAUTHENTICATED),
            grant(issued(TOKEN_2)),
            create(token=TOKEN_2),
        ],
        Sent(ATTEMPT),
    ),
]


@pytest.mark.parametrize("case", OAUTH_CASES, ids=cases.ids)
async def test_send_with_service_account_tokens(case: cases.HttpCase) -> None:
    await cases.run_send(OAUTH, case)


def test_key_file(tmp_path: Any, key: rsa.RSAPrivateKey, clock: ManualClock) -> None:
    path = tmp_path / "key.json"
    path.write_text(json.dumps(key_info(key)))
    source = ServiceAccountTokens.from_file(path, token_uri=TOKEN_URI, clock=clock)
    assert source.account == ACCOUNT
    source.close()
    (tmp_path / "bad.json").write_text("[]")
    with pytest.raises(ValueError, match="JSON object"):
        ServiceAccountTokens.from_file(tmp_path / "bad.json")


# --- the webhook ---------------------------------------------------------------------------------

AT = "2026-01-01T10:00:00.123456789Z"
AT_MS = NOW_MS + 36_000_123
PUBLISHED = "2026-01-01T10:00:01.5Z"


def envelope(data: bytes, publish_time: str | None = PUBLISHED) -> bytes:
    message: dict[str, Any] = {"data": base64.b64encode(data).decode(), "messageId": "1234"}
    if publish_time is not None:
        message["publishTime"] = publish_time
    return msgspec.json.encode(
        {"message": message, "subscription": "projects/rbm-x/subscriptions/rbm"}
    )


def push(event: dict[str, Any] | bytes, token: str = CLIENT_TOKEN, **extra: Any) -> Inbound:
    data = event if isinstance(event, bytes) else msgspec.json.encode(event)
    headers = {"x-goog-signature": signature(data, token), "content-type": "application/json"}
    return Inbound(SENDER, headers, envelope(data, **extra))


def user_event(event_type: str, **extra: Any) -> dict[str, Any]:
    return {
        "senderPhoneNumber": PHONE,
        "eventType": event_type,
        "eventId": "MxEvent1",
        "messageId": ATTEMPT,
        "sendTime": AT,
        "agentId": AGENT,
        **extra,
    }


def user_message(**content: Any) -> dict[str, Any]:
    return {
        "senderPhoneNumber": PHONE,
        "messageId": "MxUserMsg1",
        "sendTime": AT,
        "agentId": AGENT,
        **content,
    }


def reply(postback: str, text: str = "Good", kind: str = "REPLY") -> dict[str, Any]:
    return user_message(suggestionResponse={"postbackData": postback, "text": text, "type": kind})


def rbm_report(state: str, reason: str | None = None) -> DeliveryReport:
    """An event's report: its messageId is the attempt's id, as the send made it."""
    return DeliveryReport("rcs", ATTEMPT, state, AT_MS, reason, attempt_id=ATTEMPT)  # type: ignore[arg-type]


def said(text: str, to: str = AGENT) -> InboundMessage:
    """A user message as an incoming message to the agent, under RBM's messageId."""
    return InboundMessage("rcs", PHONE, to, text, AT_MS, provider_id="MxUserMsg1")


EVENT_CASES: list[tuple[str, dict[str, Any], tuple[Event, ...]]] = [
    ("delivered", user_event("DELIVERED"), (rbm_report("delivered"),)),
    ("read", user_event("READ"), (rbm_report("read"),)),
    ("is-typing", user_event("IS_TYPING", messageId=None), ()),
    ("ttl-revoked", user_event("TTL_EXPIRATION_REVOKED"),
     (rbm_report("failed", "TTL_EXPIRATION_REVOKED"),)),
    ("ttl-revoke-failed", user_event("TTL_EXPIRATION_REVOKE_FAILED"), ()),
    ("unknown-event", user_event("SUBSCRIBE"), ()),
    ("survey-reply", reply(survey_postback(MESSAGE, "Good")),
     (SurveyAnswer("rcs", "rcs-1", PHONE, "Good", MESSAGE, AT_MS), said("Good"))),
    # the chip showed 25 characters; the postback carries the whole option
    ("survey-reply-long",
     reply(survey_postback(MESSAGE, LONG_OPTION), "Very good, would come ba…"),
     (SurveyAnswer("rcs", "rcs-1", PHONE, LONG_OPTION, MESSAGE, AT_MS),
      said("Very good, would come ba…"))),
    ("survey-option-with-bar", reply(survey_postback(MESSAGE, "A|B"), "A|B"),
     (SurveyAnswer("rcs", "rcs-1", PHONE, "A|B", MESSAGE, AT_MS), said("A|B"))),
    # a suggestion the person tapped is a user message: what its chip said
    ("open-url-tap", reply(f"cascade-open|{MESSAGE}", "Shop now", "ACTION"), (said("Shop now"),)),
    ("foreign-postback", reply("reply:yes", "Yes"), (said("Yes"),)),
    ("reply-without-text", reply("reply:yes", ""), (said("reply:yes"),)),
    ("typed-text", user_message(text="Good"),
     (SurveyAnswer("rcs", "rcs-1", PHONE, "Good", None, AT_MS), said("Good"))),
    # a NUL as written: the store shows it as U+FFFD (tests/test_inbound_nul.py)
    ("typed-nul", user_message(text="Go\u0000od"),
     (SurveyAnswer("rcs", "rcs-1", PHONE, "Go\u0000od", None, AT_MS), said("Go\u0000od"))),
    ("typed-text-no-agent", {**user_message(text="Stop"), "agentId": ""},
     (SurveyAnswer("rcs", "rcs-1", PHONE, "Stop", None, AT_MS), said("Stop", to="rcs-1"))),
    ("file", user_message(userFile={"payload": {"mimeType": "image/gif"}}), ()),
    ("location", user_message(location={"latitude": 1.0, "longitude": 2.0}), ()),
]  # fmt: skip


async def test_event_time_falls_back_to_publish_time_then_the_clock() -> None:
    event = user_event("DELIVERED")
    del event["sendTime"]
    (report,) = (await handle_webhook(push(event))).events
    assert isinstance(report, DeliveryReport)
    assert report.at_ms == NOW_MS + 36_001_500
    clock = ManualClock(now_ms=1_800_000_000_000)
    (report,) = (await webhook_handler(clock)(push(event, publish_time=None))).events
    assert isinstance(report, DeliveryReport)
    assert report.at_ms == 1_800_000_000_000


def _raw_body_signature(data: bytes) -> dict[str, str]:
    # signing the HTTP body instead of the decoded data is a different signature
    return {"x-goog-signature": signature(envelope(data), CLIENT_TOKEN)}


def _hex_signature(data: bytes) -> dict[str, str]:
    return {"x-goog-signature": base64.b64decode(signature(data, CLIENT_TOKEN)).hex()}


BAD_SIGNATURES: list[tuple[str, Callable[[bytes], dict[str, str]]]] = [
    ("missing", lambda data: {}),
    ("empty", lambda data: {"x-goog-signature": ""}),
    ("garbage", lambda data: {"x-goog-signature": "not-base64!"}),
    ("non-ascii", lambda data: {"x-goog-signature": "é" * 88}),
    ("other-token", lambda data: {"x-goog-signature": signature(data, "ANOTHERTOKEN")}),
    ("other-data", lambda data: {"x-goog-signature": signature(b"{}", CLIENT_TOKEN)}),
    ("raw-body", _raw_body_signature),
    ("hex", _hex_signature),
]


def _signed_envelope(raw: bytes) -> Inbound:
    return Inbound(SENDER, {"x-goog-signature": signature(b"{}", CLIENT_TOKEN)}, raw)


MALFORMED: list[tuple[str, Inbound]] = [
    ("not-json", _signed_envelope(b"{not json")),
    ("empty", _signed_envelope(b"")),
    ("array", _signed_envelope(b"[]")),
    ("no-message", _signed_envelope(b'{"subscription": "x"}')),
    ("no-data", _signed_envelope(b'{"message": {"messageId": "1"}}')),
    ("data-not-base64", _signed_envelope(b'{"message": {"data": "%%%"}}')),
    ("event-not-json", push(b"not json")),
    ("event-array", push(b"[1, 2]")),
    ("event-type-not-string", push(user_event("DELIVERED", eventType=5))),
    ("delivered-no-message-id", push(user_event("DELIVERED", messageId=None))),
    ("read-empty-message-id", push(user_event("READ", messageId=""))),
    ("text-no-phone", push(user_message(text="hi", senderPhoneNumber=""))),
    ("suggestion-not-object", push(user_message(suggestionResponse="Good"))),
]


DELIVERED = msgspec.json.encode(user_event("DELIVERED"))
HANDSHAKE = b'{"clientToken": "SJENCPGJESMGUFPY", "secret": "1234567890"}'
WRONG_TOKEN = {"error": "wrong client token"}

HOOK_CASES = [
    *(cases.HookCase(label, push(event), 200, events, b"") for label, event, events in EVENT_CASES),
    cases.HookCase(
        "handshake echoes the secret",
        Inbound(SENDER, {}, HANDSHAKE),
        200,
        (),
        b"1234567890",
        content_type="text/plain",
    ),
    *(
        cases.HookCase(f"handshake, {label}", Inbound(sender, {}, body), 401, body=WRONG_TOKEN)
        for label, sender, body in [
            ("wrong token", SENDER, b'{"clientToken": "SOMEONEELSE", "secret": "1234567890"}'),
            ("empty token", SENDER, b'{"clientToken": "", "secret": "1234567890"}'),
            (
                "no token configured",
                Sender("rcs-1", ""),
                b'{"clientToken": "", "secret": "1234567890"}',
            ),
        ]
    ),
    cases.HookCase(
        "handshake for another agent keeps its secret",
        Inbound(SENDER, {}, b'{"clientToken": "not-ours", "secret": "s3cret"}'),
        401,
        body=WRONG_TOKEN,
        secrets=("s3cret",),
    ),
    *(
        cases.HookCase(
            f"signature {label}", Inbound(SENDER, headers(DELIVERED), envelope(DELIVERED)), 401
        )
        for label, headers in BAD_SIGNATURES
    ),
    cases.HookCase(
        "sender without client token accepts nothing",
        Inbound(
            Sender("rcs-1", ""), {"x-goog-signature": signature(DELIVERED, "")}, envelope(DELIVERED)
        ),
        401,
    ),
    cases.HookCase(
        "forged",
        Inbound(SENDER, {"x-goog-signature": "AAAA"}, b'{"message": {"data": "e30="}}'),
        401,
    ),
    cases.HookCase("unsigned garbage is 401, not 400", Inbound(SENDER, {}, b"{not json"), 401),
    *(
        cases.HookCase(label, inbound, 400, body={"error": cases.Matching("malformed.*")})
        for label, inbound in MALFORMED
    ),
]


@pytest.mark.parametrize("case", HOOK_CASES, ids=cases.ids)
async def test_webhook(case: cases.HookCase) -> None:
    await cases.run_hook(WEBHOOK_ROUTE.handler, case, RBM.secrets)


def test_signature_is_base64_hmac_sha512() -> None:
    # RFC 4231 test case 2: HMAC-SHA-512, key "Jefe"
    expected = (
        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
        "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
    )
    assert base64.b64decode(signature(b"what do ya want for nothing?", "Jefe")).hex() == expected
    assert hashlib.sha512().digest_size == len(base64.b64decode(signature(b"", "k")))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-01T00:00:00Z", NOW_MS),
        ("2026-01-01T00:00:00.5Z", NOW_MS + 500),
        ("2026-01-01T00:00:00.123456789Z", NOW_MS + 123),
        ("2026-01-01T02:00:00.250+02:00", NOW_MS + 250),
        ("2026-01-01T00:00:00", NOW_MS),
        ("yesterday", None),
        ("", None),
        (None, None),
    ],
)
def test_rfc3339_ms(text: str | None, expected: int | None) -> None:
    assert rfc3339_ms(text) == expected
