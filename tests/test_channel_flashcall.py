"""The flash-call channel: its pure code helpers, Twilio's Calls API against a mocked
transport, and the status-callback webhook, all table-driven.

Calls and status callbacks are rows for the channel test runner (tests/channel_cases.py);
the other tests that talk to "Twilio" declare the exchanges they expect
(tests/mock_transport.py).
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from msgspec.structs import replace

from cascade.channels.base import Channel, Inbound
from cascade.channels.flashcall import (
    LIMITS,
    TWIML,
    WEBHOOK_ROUTE,
    FlashCallChannel,
    caller_for,
    code_of,
    given_caller,
    handle_webhook,
    masked,
    new_code,
    pattern,
    pattern_in,
    signature,
)
from cascade.channels.flashcall.codes import check_prefix
from cascade.domain.content import Content, ContentKind
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
from tests import channel_cases as cases
from tests.mock_transport import TRANSPORT_FAULTS, Exchange, MockApi, channel_on, scripted
from tests.outbound import outbound_to

ACCOUNT = "AC3f2a0c5d9e8b7a6f5e4d3c2b1a0f9e8d"
TOKEN = "9c1e4f7a2b5d8e0f3a6c9b2e5d8f1a4c"
BASE = "https://twilio.test"
CASCADE = "https://cascade.test"
PREFIX = "+44207946"
SENDER = Sender(id="flashcall", token=TOKEN)
CALL_SID = "CA" + "5e" * 16
CALLS_PATH = f"/2010-04-01/Accounts/{ACCOUNT}/Calls.json"
CALLBACK_URL = f"{CASCADE}/webhooks/flashcall/flashcall"

# --- codes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [4, 5, 6])
def test_new_code_is_random_digits_of_the_length(length: int) -> None:
    made = {new_code(length) for _ in range(300)}
    assert all(len(c) == length and c.isascii() and c.isdigit() for c in made)
    assert len(made) > 250  # random, not a counter or a constant


def test_new_code_keeps_leading_zeros() -> None:
    assert any(new_code(4).startswith("0") for _ in range(2000))


@pytest.mark.parametrize("length", [0, 3, 7, -1])
def test_code_length_is_4_to_6(length: int) -> None:
    with pytest.raises(ValueError, match="code length"):
        new_code(length)


CALLER_CASES: list[tuple[str, str, str]] = [
    ("+44207946", "0042", "+442079460042"),
    ("+38044123", "4567", "+380441234567"),
    ("+380441", "234567", "+380441234567"),
    ("+1202555", "01234", "+120255501234"),
]


@pytest.mark.parametrize(("prefix", "code", "caller"), CALLER_CASES)
def test_caller_is_prefix_then_code(prefix: str, code: str, caller: str) -> None:
    assert caller_for(prefix, code) == caller
    assert code_of(caller, len(code)) == code


BAD_PREFIXES: list[tuple[str, int]] = [
    ("44207946", 4),  # no "+"
    ("+04207946", 4),  # country codes do not start with 0
    ("+4420 7946", 4),
    ("+1", 4),  # 5 digits in all: too short for E.164
    ("+1234567890123", 4),  # 17 digits in all: too long
    ("+44207946", 3),
    ("", 4),
]


@pytest.mark.parametrize(("prefix", "length"), BAD_PREFIXES)
def test_bad_prefixes_are_refused(prefix: str, length: int) -> None:
    with pytest.raises(ValueError, match=r"prefix|code length"):
        check_prefix(prefix, length)


@pytest.mark.parametrize("code", ["12a4", "١٢٣٤", "", "12 4"])
def test_caller_for_refuses_codes_that_are_not_digits(code: str) -> None:
    with pytest.raises(ValueError, match="decimal digits"):
        caller_for(PREFIX, code)


PATTERN_CASES: list[tuple[str, int, str]] = [
    ("+380441234567", 4, "+380441234567 (***234567)"),
    ("+380441234567", 6, "+380441234567 (***234567)"),
    ("+442079456789", 4, "+442079456789 (***456789)"),
]


@pytest.mark.parametrize(("caller", "length", "shown"), PATTERN_CASES)
def test_pattern_shows_the_caller_and_its_last_six_digits(
    caller: str, length: int, shown: str
) -> None:
    assert pattern(caller, length) == shown


@pytest.mark.parametrize(("caller", "length"), [("1234", 4), ("+3804412345ab", 4), ("", 4)])
def test_pattern_needs_a_caller_ending_in_a_code(caller: str, length: int) -> None:
    with pytest.raises(ValueError, match="does not end in a code"):
        pattern(caller, length)


# --- the runner ---------------------------------------------------------------------------------


@pytest.fixture
def twilio() -> Iterator[MockApi]:
    with scripted(CALLS_PATH) as api:
        yield api


def make_channel(client: httpx.AsyncClient | None = None, **overrides: Any) -> FlashCallChannel:
    values: dict[str, Any] = {
        "account_sid": ACCOUNT,
        "auth_token": TOKEN,
        "caller_prefix": PREFIX,
        "status_callback_url_base": CASCADE + "/",
        "base_url": BASE,
        "client": client,
    }
    values.update(overrides)
    return FlashCallChannel(**values)


@pytest.fixture
async def channel(twilio: MockApi) -> AsyncIterator[FlashCallChannel]:
    async with channel_on(twilio, make_channel) as channel:
        yield channel


def created(sid: str = CALL_SID, **extra: Any) -> httpx.Response:
    body = {
        "sid": sid,
        "account_sid": ACCOUNT,
        "status": "queued",
        "direction": "outbound-api",
        "to": "+380501234569",
        "api_version": "2010-04-01",
        **extra,
    }
    return httpx.Response(201, json=body)


def error(http_status: int, code: int, message: str = "error") -> httpx.Response:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": http_status,
    }
    return httpx.Response(http_status, json=body)


def outbound(
    phone: str = "+380501234569", *, ttl: int = 300, address: str = "", caller_id: str | None = None
) -> Outbound:
    return outbound_to(
        phone,
        SENDER,
        address=address or phone,
        content=Content(caller_id=caller_id),
        message_type="flashcall",
        ttl_remaining_s=ttl,
    )


# --- what the channel is ----------------------------------------------------------------------


def test_channel_declares_its_limits_and_route() -> None:
    channel: Channel = make_channel()
    assert channel.name == "flashcall"
    assert channel.limits == LIMITS
    assert LIMITS.confirms_delivery is True
    assert ContentKind.SURVEY not in LIMITS.carries
    assert 0 < LIMITS.delivery_window_s <= 300  # never beyond flashcall's default TTL
    assert FlashCallChannel.routes == (WEBHOOK_ROUTE,)
    assert WEBHOOK_ROUTE.channel == "flashcall"
    assert TWIML == "<Response><Hangup/></Response>"


async def test_owned_client_is_closed() -> None:
    channel = make_channel()
    await channel.aclose()
    assert channel._client.is_closed


BAD_CONFIG: list[dict[str, Any]] = [
    {"account_sid": ""},
    {"auth_token": ""},
    {"caller_prefix": "44207946"},
    {"code_length": 7},
    {"code_length": 3},
    {"caller_prefix": "+4420794612345"},  # with a 4-digit code: 17 digits
    {"status_callback_url_base": "cascade.test"},
    {"ring_timeout_s": 0},
    {"ring_timeout_s": 601},
]


@pytest.mark.parametrize("overrides", BAD_CONFIG, ids=lambda o: ",".join(o))
def test_bad_configuration_is_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"AccountSid|prefix|code length|URL|ring timeout"):
        make_channel(**overrides)


# --- placing the call -------------------------------------------------------------------------

BASIC = "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
CALLER = cases.Matching(re.escape(PREFIX) + r"\d{4}")  # the code is the caller's last four digits


def caller_of(outcome: Outcome) -> tuple[str, ...]:
    """The caller number a placed call carries its code in (its detail's number): never to
    be logged."""
    if isinstance(outcome, Sent) and outcome.secret and outcome.detail:
        return (outcome.detail.split(" ")[0],)
    return ()


TWILIO = cases.HttpBench(
    origin=BASE,
    make=make_channel,
    secrets=(TOKEN, TOKEN[:12], BASIC.split()[1]),
    headers={"Authorization": BASIC, "Content-Type": "application/x-www-form-urlencoded"},
    carried=caller_of,
)


def placed(seen: Sequence[httpx.Request]) -> Outcome:
    """A placed call: its code is the one its caller number carries."""
    caller = cases.decoded(seen[0])[1]["From"]
    code = caller.removeprefix(PREFIX)
    return Sent(CALL_SID, detail=pattern(PREFIX + code, 4), secret=code)


def call(
    label: str,
    reply: httpx.Response | Exception,
    expected: Outcome | Callable[[Sequence[httpx.Request]], Outcome],
    out: Outbound | None = None,
    body: list[tuple[str, object]] | None = None,
    config: dict[str, Any] | None = None,
    **fields: str,
) -> cases.HttpCase:
    out = out or outbound()
    key = {"To": out.address, "From": CALLER, **fields}
    calls = [cases.Call(reply, "POST", CALLS_PATH, body=body, fields=key)]
    return cases.SendCase(label, out, calls, expected, config or {})


CASES = [
    call(
        "call request is exact",
        created(),
        placed,
        body=[
            ("To", "+380501234569"),
            ("From", CALLER),
            ("Twiml", "<Response><Hangup/></Response>"),
            ("Timeout", "10"),
            ("StatusCallback", CALLBACK_URL),
            ("StatusCallbackMethod", "POST"),
            ("StatusCallbackEvent", "completed"),
        ],
    ),
    # the ring timeout never outlasts the TTL
    call("rings 4 s with 4 s left", created(), placed, outbound(ttl=4), Timeout="4"),
    call("rings 1 s with none left", created(), placed, outbound(ttl=0), Timeout="1"),
    call(
        "address wins over phone and sender id is in the callback",
        created(),
        placed,
        replace(outbound(address="+380501234560"), sender=Sender(id="twilio main/1", token=TOKEN)),
        config={"ring_timeout_s": 15},
        Timeout="15",
        StatusCallback=f"{CASCADE}/webhooks/flashcall/twilio%20main%2F1",
    ),
]


async def test_each_call_carries_a_fresh_code(twilio: MockApi) -> None:
    twilio.expect(*(Exchange(created()) for _ in range(20)))
    async with twilio.client() as client:
        channel = make_channel(client, code_length=6)
        outcomes = [await channel.send(outbound()) for _ in range(20)]
    secrets_ = [o.secret for o in outcomes if isinstance(o, Sent)]
    assert len(secrets_) == 20
    assert len(set(secrets_)) > 15
    froms = [dict(parse_qsl(r.content.decode()))["From"] for r in twilio.requests]
    assert froms == [PREFIX + s for s in secrets_ if s]
    assert all(o.detail and o.detail.startswith(PREFIX) for o in outcomes if isinstance(o, Sent))


ERROR_CASES: list[tuple[str, httpx.Response, Outcome]] = [
    ("21211-invalid-to", error(400, 21211), Unreachable("INVALID_NUMBER")),
    ("21217-not-valid", error(400, 21217), Unreachable("INVALID_NUMBER")),
    ("13223-format", error(400, 13223), Unreachable("INVALID_NUMBER")),
    ("13224-unsupported", error(400, 13224), Unreachable("INVALID_NUMBER")),
    ("21202-premium", error(400, 21202), Unreachable("PREMIUM_NUMBER")),
    ("21215-geo", error(400, 21215), Misconfigured("GEO_PERMISSION")),
    ("21210-caller", error(400, 21210), Misconfigured("CALLER_NOT_VERIFIED")),
    ("20003-auth", error(401, 20003, "Authenticate"), Misconfigured("AUTH_FAILED")),
    ("20403-suspended", error(403, 20403), Misconfigured("ACCOUNT_FORBIDDEN")),
    ("20429", error(429, 20429, "Too Many Requests"), Throttled(1.0, "TOO_MANY_REQUESTS")),
    (
        "20429-retry-after",
        httpx.Response(429, headers={"Retry-After": "7"}, json={"code": 20429, "status": 429}),
        Throttled(7.0, "TOO_MANY_REQUESTS"),
    ),
    ("21208-timeout", error(400, 21208), Failed("INVALID_TIMEOUT")),
    ("21626-event", error(400, 21626), Failed("INVALID_STATUS_CALLBACK_EVENT")),
    ("other-code", error(400, 21205), Failed("TWILIO_21205")),
    ("404-with-code", error(404, 20404), Misconfigured("HTTP_404")),
    ("429-no-body", httpx.Response(429), Throttled(1.0, "HTTP_429")),
    ("401-no-body", httpx.Response(401), Misconfigured("HTTP_401")),
    ("301", httpx.Response(301, headers={"Location": "https://x"}), Misconfigured("HTTP_301")),
    ("400-html", httpx.Response(400, text="<html>bad</html>"), Failed("HTTP_400")),
    ("500", httpx.Response(500, text="oops"), Retry("HTTP_500")),
    ("503-with-code", error(503, 20500), Retry("HTTP_503")),
]


FAULT_CASES: list[tuple[str, httpx.Response | Exception, Outcome]] = [
    *TRANSPORT_FAULTS,
    # a 2xx we cannot read may be a placed call behind a proxy: never repeated
    ("html-201", httpx.Response(201, text="<html>proxy</html>"), InDoubt("BAD_RESPONSE")),
    ("no-sid", httpx.Response(201, json={"status": "queued"}), InDoubt("BAD_RESPONSE")),
    ("empty-sid", httpx.Response(200, json={"sid": ""}), InDoubt("BAD_RESPONSE")),
]


OWN_CALLER = "+380441239876"

# the message names its caller number (the core API's `callerId`): its last digits the code
CALLER_ID_CASES = [
    call(
        "the caller number is the message's, its last four digits the code",
        created(),
        Sent(CALL_SID, detail="+380441239876 (***9876)", secret="9876"),
        outbound(caller_id=OWN_CALLER),
        From=OWN_CALLER,
    ),
    call(
        "the code is as long as the channel's codes",
        created(),
        Sent(CALL_SID, detail="+380441239876 (***239876)", secret="239876"),
        outbound(caller_id=OWN_CALLER),
        config={"code_length": 6},
        From=OWN_CALLER,
    ),
    call(
        "a caller number that is not the account's fails the message, not the channel",
        error(400, 21210),
        Failed("CALLER_ID_NOT_VERIFIED"),
        outbound(caller_id=OWN_CALLER),
        From=OWN_CALLER,
    ),
    *(
        cases.SendCase(f"caller id {bad!r} is refused", outbound(caller_id=bad), [],
                       Failed("INVALID_CALLER_ID"))
        for bad in ["380441239876", "+3804412398ab", "+1234", "+0441239876", "+1234567890123456"]
    ),
]  # fmt: skip

ALL = [
    *CASES,
    *CALLER_ID_CASES,
    *(call(label, reply, expected) for label, reply, expected in [*ERROR_CASES, *FAULT_CASES]),
]


@pytest.mark.parametrize(
    ("caller", "length", "expected"),
    [
        ("+380441239876", 4, ("+380441239876", "9876")),
        ("+380441239876", 6, ("+380441239876", "239876")),
        ("+12025550123", 4, ("+12025550123", "0123")),
    ],
)
def test_given_caller_is_the_number_and_its_code(
    caller: str, length: int, expected: tuple[str, str]
) -> None:
    assert given_caller(caller, length) == expected
    assert masked(expected[1]) == "***" + expected[1]


@pytest.mark.parametrize(
    ("detail", "shown"),
    [
        ("+380441239876 (***9876)", "***9876"),
        ("+380441234567 (***234567)", "***234567"),
        ("UCS-2, 3 parts", None),
        ("+380441239876 9876", None),
        ("+380441239876 (9876)", None),
    ],
)
def test_pattern_in_reads_the_pattern_a_detail_carries(detail: str, shown: str | None) -> None:
    assert pattern_in(detail) == shown


@pytest.mark.parametrize("case", ALL, ids=cases.ids)
async def test_call(case: cases.HttpCase) -> None:
    await cases.run_send(TWILIO, case)


async def test_unsupported_base_url_is_misconfigured() -> None:
    channel = make_channel(base_url="ftp://twilio.test")
    try:
        assert await channel.send(outbound()) == Misconfigured("INVALID_BASE_URL")
    finally:
        await channel.aclose()


async def test_error_messages_quoting_the_caller_are_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    callers: list[str] = []

    def echo(request: httpx.Request) -> httpx.Response:
        caller = dict(parse_qsl(request.content.decode()))["From"]
        callers.append(caller)
        message = f"The source phone number provided, {caller}, is not yet verified"
        return error(400, 21210, message)

    async with httpx.AsyncClient(transport=httpx.MockTransport(echo)) as client:
        outcome = await make_channel(client).send(outbound())
    assert outcome == Misconfigured("CALLER_NOT_VERIFIED")
    assert "21210" in caplog.text
    assert callers
    assert callers[0] not in caplog.text


# --- cancelling a call whose window ended ----------------------------------------------------


async def test_revoke_cancels_the_call(channel: FlashCallChannel, twilio: MockApi) -> None:
    path = f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{CALL_SID}.json"
    twilio.expect(Exchange(httpx.Response(200, json={"sid": CALL_SID}), path=path))
    await channel.revoke(SENDER, "+380501234569", CALL_SID)
    assert twilio.only_form == [("Status", "canceled")]
    assert twilio.requests[0].headers["Authorization"].startswith("Basic ")


@pytest.mark.parametrize(
    "reply",
    [
        error(400, 21220),
        httpx.Response(500),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
    ],
)
async def test_revoke_swallows_failures(
    channel: FlashCallChannel, twilio: MockApi, reply: httpx.Response | Exception
) -> None:
    path = f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{CALL_SID}.json"
    twilio.expect(Exchange(reply, path=path))
    with cases.captured_logs() as records:
        await channel.revoke(SENDER, "+380501234569", CALL_SID)  # does not raise
    assert records, "a failed cancel is logged"
    cases.assert_kept(TWILIO.secrets, records, "", "revoke")


# --- the status callback ---------------------------------------------------------------------

AT = "Tue, 31 Aug 2010 20:36:28 +0000"
AT_MS = 1283286988000


def callback(status: str, **extra: str) -> list[tuple[str, str]]:
    params = {
        "AccountSid": ACCOUNT,
        "ApiVersion": "2010-04-01",
        "CallSid": CALL_SID,
        "CallStatus": status,
        "Called": "+380501234569",
        "Caller": "+442079460042",
        "Direction": "outbound-api",
        "From": "+442079460042",
        "To": "+380501234569",
        "Timestamp": AT,
        "CallbackSource": "call-progress-events",
        "SequenceNumber": "0",
        **extra,
    }
    return list(params.items())


def signed(
    params: list[tuple[str, str]],
    *,
    url: str = CALLBACK_URL,
    signed_url: str | None = None,
    token: str = TOKEN,
) -> Inbound:
    """The request as the API layer hands it over: the URL it was called at in a header."""
    body = urlencode(params).encode()
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "x-twilio-signature": signature(signed_url or url, params, token),
        "x-cascade-webhook-url": url,
    }
    return Inbound(SENDER, headers, body)


def delivered(**extra: Any) -> DeliveryReport:
    return DeliveryReport("flashcall", CALL_SID, "delivered", AT_MS, **extra)


def failed(reason: str) -> DeliveryReport:
    return DeliveryReport("flashcall", CALL_SID, "failed", AT_MS, reason)


EVENT_CASES: list[tuple[str, list[tuple[str, str]], tuple[Event, ...]]] = [
    ("no-answer", callback("no-answer", CallDuration="0", SipResponseCode="487"), (delivered(),)),
    ("busy", callback("busy", CallDuration="0"), (delivered(),)),
    ("completed", callback("completed", CallDuration="1"), (delivered(),)),
    ("failed", callback("failed", SipResponseCode="404"), (failed("CALL_FAILED:SIP_404"),)),
    ("failed-no-sip", callback("failed"), (failed("CALL_FAILED"),)),
    ("failed-odd-sip", callback("failed", SipResponseCode="4o4"), (failed("CALL_FAILED"),)),
    ("canceled", callback("canceled"), (failed("CALL_CANCELED"),)),
    ("queued", callback("queued"), ()),
    ("initiated", callback("initiated"), ()),
    ("ringing", callback("ringing"), ()),
    ("in-progress", callback("in-progress"), ()),
    ("a-status-to-come", callback("teleported"), ()),
    ("blank-params-are-signed", callback("busy", ForwardedFrom="", CallerName=""), (delivered(),)),
]


async def test_timestamp_missing_or_unreadable_means_now() -> None:
    for params in (
        [p for p in callback("busy") if p[0] != "Timestamp"],
        callback("busy", Timestamp="yesterday"),
    ):
        reply = await handle_webhook(signed(params))
        (report,) = reply.events
        assert isinstance(report, DeliveryReport)
        assert report.at_ms > AT_MS


def test_signature_matches_twilios_published_example() -> None:
    # The worked example of Twilio's "Validating requests" documentation.
    params = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("To", "+18005551212"),
    ]
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert signature(url, params, "12345") == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert signature(url, list(reversed(params)), "12345") == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


PORT_CASES: list[tuple[str, str]] = [
    (
        "https://cascade.test/webhooks/flashcall/flashcall",
        "https://cascade.test:443/webhooks/flashcall/flashcall",
    ),
    (
        "https://cascade.test:443/webhooks/flashcall/flashcall",
        "https://cascade.test/webhooks/flashcall/flashcall",
    ),
    ("http://cascade.test/w?x=1", "http://cascade.test:80/w?x=1"),
    ("http://[::1]:80/w", "http://[::1]/w"),
]


def _tampered(params: list[tuple[str, str]]) -> Inbound:
    inbound = signed(params)
    body = inbound.body.replace(b"CallStatus=failed", b"CallStatus=busy")
    return Inbound(SENDER, inbound.headers, body)


def _headers(**changes: str | None) -> Callable[[list[tuple[str, str]]], Inbound]:
    def make(params: list[tuple[str, str]]) -> Inbound:
        inbound = signed(params)
        headers = dict(inbound.headers)
        for name, value in changes.items():
            key = name.replace("_", "-")
            if value is None:
                headers.pop(key, None)
            else:
                headers[key] = value
        return Inbound(SENDER, headers, inbound.body)

    return make


FORGED: list[tuple[str, Callable[[list[tuple[str, str]]], Inbound]]] = [
    ("no-signature", _headers(x_twilio_signature=None)),
    ("empty-signature", _headers(x_twilio_signature="")),
    ("garbage", _headers(x_twilio_signature="deadbeef")),
    ("non-ascii", _headers(x_twilio_signature="é" * 28)),
    ("other-token", lambda p: signed(p, token="another-accounts-token")),
    ("other-url", lambda p: signed(p, signed_url=CASCADE + "/webhooks/flashcall/other")),
    (
        "other-port",
        lambda p: signed(p, signed_url="https://cascade.test:8443/w", url="https://cascade.test/w"),
    ),
    ("tampered-body", _tampered),
    ("no-url-header", _headers(x_cascade_webhook_url=None)),
    ("wrong-url-header", _headers(x_cascade_webhook_url=CASCADE + "/elsewhere")),
    (
        "no-token",
        lambda p: Inbound(Sender("flashcall", ""), signed(p, token="").headers, signed(p).body),
    ),
]


UNREADABLE: list[tuple[str, bytes]] = [
    ("not-utf8", b"CallSid=\xff\xfe&CallStatus=busy"),
    ("no-equals", b"CallSid"),
    ("empty-field", b"CallSid=CA1&&CallStatus=busy"),
    ("json", b'{"CallSid": "CA1", "CallStatus": "busy"}'),
    ("too-many-fields", "&".join(f"F{i}=1" for i in range(101)).encode()),
]


INCOMPLETE: list[tuple[str, list[tuple[str, str]]]] = [
    ("empty", []),
    ("no-call-sid", [p for p in callback("busy") if p[0] != "CallSid"]),
    ("no-call-status", [p for p in callback("busy") if p[0] != "CallStatus"]),
    ("blank-call-sid", callback("busy", CallSid="")),
    ("blank-call-status", callback("busy", CallStatus="")),
]


BAD_SIGNATURE = {"error": "bad signature"}
MALFORMED = {"error": "malformed callback"}
UNSIGNED = {"x-twilio-signature": "AAAA", "x-cascade-webhook-url": CALLBACK_URL}

HOOK_CASES = [
    *(
        cases.HookCase(label, signed(params), 200, events, b"")
        for label, params, events in EVENT_CASES
    ),
    # the default port may or may not be signed
    *(
        cases.HookCase(
            f"{called} signed as {url}",
            signed(callback("busy"), url=called, signed_url=url),
            200,
            (delivered(),),
        )
        for called, url in PORT_CASES
    ),
    *(
        cases.HookCase(label, make(callback("failed")), 403, body=BAD_SIGNATURE)
        for label, make in FORGED
    ),
    cases.HookCase(
        "forged",
        Inbound(SENDER, {"x-twilio-signature": "AAAA", "x-cascade-webhook-url": "u"}, b""),
        403,
        body=BAD_SIGNATURE,
    ),
    *(
        cases.HookCase(label, Inbound(SENDER, UNSIGNED, body), 400, body=MALFORMED)
        for label, body in UNREADABLE
    ),
    *(cases.HookCase(label, signed(params), 400, body=MALFORMED) for label, params in INCOMPLETE),
]


@pytest.mark.parametrize("case", HOOK_CASES, ids=cases.ids)
async def test_webhook(case: cases.HookCase) -> None:
    await cases.run_hook(WEBHOOK_ROUTE.handler, case, TWILIO.secrets)
