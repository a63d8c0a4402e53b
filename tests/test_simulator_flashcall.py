"""The Twilio Voice simulator on a real loopback port, driven by the real `FlashCallChannel`.

Two servers run in background threads: the simulator, and a small receiving app that
serves the channel's own webhook handler the way the API layer must (passing the URL it
was called at in `x-cascade-webhook-url`), so every status callback the simulator sends
must carry a valid signature to produce events. The tests talk to both over loopback only.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from cascade.channels.flashcall import FlashCallChannel, handle_webhook, signature
from cascade.domain.content import Content
from cascade.domain.sending import (
    Failed,
    Misconfigured,
    Outbound,
    Sender,
    Sent,
    Throttled,
    Unreachable,
)
from cascade.simulators.flashcall import FlashCallSimulator, create_app
from tests import live_simulator
from tests.live_simulator import live_on, script, wait_for
from tests.outbound import numbered_outbound_to
from tests.receiver import Receiver, form_field, report_arrivals, reports

ACCOUNT = "AC3f2a0c5d9e8b7a6f5e4d3c2b1a0f9e8d"
TOKEN = "9c1e4f7a2b5d8e0f3a6c9b2e5d8f1a4c"
PREFIX = "+44207946"
SENDER = Sender(id="flashcall", token=TOKEN)
IMPOSTOR = Sender(id="other", token="a-token-the-simulator-does-not-sign-with")

pytestmark = pytest.mark.live


# --- servers in threads ------------------------------------------------------------------------

Live = live_simulator.Live[FlashCallSimulator, FlashCallChannel]


def flashcall_channel(sim_url: str, receiver_url: str, **overrides: Any) -> FlashCallChannel:
    values: dict[str, Any] = {
        "account_sid": ACCOUNT,
        "auth_token": TOKEN,
        "caller_prefix": PREFIX,
        "status_callback_url_base": receiver_url,
        "base_url": sim_url,
    }
    values.update(overrides)
    return FlashCallChannel(**values)


@pytest.fixture
async def live() -> AsyncIterator[Live]:
    receiver = Receiver("flashcall", handle_webhook, (SENDER, IMPOSTOR), form_field("CallStatus"))
    simulator = FlashCallSimulator(ring_ms=50)
    app = create_app(simulator, accounts={ACCOUNT: TOKEN})
    async with live_on(
        app, simulator, receiver, lambda url: flashcall_channel(url, receiver.url)
    ) as live:
        yield live


def outbound(phone: str, *, sender: Sender = SENDER) -> Outbound:
    return numbered_outbound_to(
        phone, sender, text="", message_type="flashcall", ttl_remaining_s=300
    )


# --- personas ---------------------------------------------------------------------------------


async def test_persona_9_takes_the_call_then_it_is_delivered(live: Live) -> None:
    phone = "+380501234569"
    before_ms = time.time() * 1000
    outcome = await live.channel.send(outbound(phone))
    assert isinstance(outcome, Sent)
    assert outcome.provider_id.startswith("CA")
    assert len(outcome.provider_id) == 34
    assert outcome.secret is not None
    assert outcome.detail is not None
    assert outcome.detail.startswith(PREFIX)
    assert outcome.detail.endswith(f"(***{outcome.detail.split()[0][-6:]})")

    await wait_for(lambda: bool(reports(live.receiver, outcome.provider_id)))
    (report,) = reports(live.receiver, outcome.provider_id)
    assert (report.state, report.reason) == ("delivered", None)
    assert before_ms - 1000 <= report.at_ms <= time.time() * 1000 + 1000
    assert [(c.kind, c.status) for c in live.receiver.callbacks()] == [("no-answer", 200)]

    (call,) = (await live.admin.get("/_sim/received", params={"phone": phone})).json()
    assert call["sid"] == outcome.provider_id
    assert call["to"] == phone
    assert call["from"] == PREFIX + outcome.secret  # the caller carries the code
    assert call["twiml"] == "<Response><Hangup/></Response>"
    assert call["timeout"] == 10
    assert call["events"] == ["completed"]
    assert call["status"] == "no-answer"
    assert before_ms - 1000 <= call["at_ms"] <= call["ended_at_ms"]
    assert TOKEN not in str(call)


@pytest.mark.parametrize("phone", ["+380501234566", "+380501234561", "+380501234567"])
async def test_phones_that_take_no_calls_fail(live: Live, phone: str) -> None:
    outcome = await live.channel.send(outbound(phone))
    assert isinstance(outcome, Sent)  # Twilio takes the call, then cannot connect it
    await wait_for(lambda: bool(reports(live.receiver, outcome.provider_id)))
    (report,) = reports(live.receiver, outcome.provider_id)
    assert (report.state, report.reason) == ("failed", "CALL_FAILED:SIP_404")


async def test_scripted_throttle(live: Live) -> None:
    await script(live, "+380501234569", reachable=True, throttle=True)
    outcome = await live.channel.send(outbound("+380501234569"))
    assert outcome == Throttled(1.0, "TOO_MANY_REQUESTS")
    assert (await live.admin.get("/_sim/received")).json() == []
    assert (await live.admin.delete("/_sim/script")).status_code == 204
    assert isinstance(await live.channel.send(outbound("+380501234569")), Sent)


async def test_scripted_pick_up_completes_and_is_delivered(live: Live) -> None:
    await script(live, "+380501234560", reachable=True, deliver_after_ms=10, read_after_ms=20)
    outcome = await live.channel.send(outbound("+380501234560"))
    assert isinstance(outcome, Sent)
    await wait_for(lambda: bool(reports(live.receiver, outcome.provider_id)))
    assert [c.kind for c in live.receiver.callbacks()] == ["completed"]
    assert reports(live.receiver, outcome.provider_id)[0].state == "delivered"


async def test_scripted_blocked_and_failing_phones(live: Live) -> None:
    await script(live, "+380501234560", reachable=True, blocked=True)
    await script(live, "+380501234562", reachable=True, fail=True)
    sids = []
    for phone in ("+380501234560", "+380501234562"):
        outcome = await live.channel.send(outbound(phone))
        assert isinstance(outcome, Sent)
        sids.append(outcome.provider_id)
    await wait_for(lambda: all(reports(live.receiver, sid) for sid in sids))
    reasons = [reports(live.receiver, sid)[0].reason for sid in sids]
    assert reasons == ["CALL_FAILED:SIP_603", "CALL_FAILED:SIP_500"]


async def test_scripted_delay_holds_the_report(live: Live) -> None:
    await script(live, "+380501234560", reachable=True, deliver_after_ms=400)
    sent_at = time.monotonic()
    outcome = await live.channel.send(outbound("+380501234560"))
    assert isinstance(outcome, Sent)  # the create answer does not wait for the call
    await wait_for(lambda: bool(reports(live.receiver, outcome.provider_id)))
    # held: it came no sooner than the scripted 400 ms after the send
    assert report_arrivals(live.receiver, outcome.provider_id)[0] - sent_at >= 0.4


async def test_revoke_cancels_a_call_that_keeps_ringing(live: Live) -> None:
    await script(live, "+380501234560", reachable=True, deliver_after_ms=None)
    outcome = await live.channel.send(outbound("+380501234560"))
    assert isinstance(outcome, Sent)
    # the simulator has done all it will for the call until asked: it keeps ringing
    await wait_for(live.simulator.idle)
    assert reports(live.receiver, outcome.provider_id) == []
    await live.channel.revoke(SENDER, "+380501234560", outcome.provider_id)
    (report,) = reports(live.receiver, outcome.provider_id)  # posted before the answer
    assert (report.state, report.reason) == ("failed", "CALL_CANCELED")
    await live.channel.revoke(SENDER, "+380501234560", outcome.provider_id)  # 21220: ignored
    assert len(reports(live.receiver, outcome.provider_id)) == 1


# --- the provider's answers ----------------------------------------------------------------------


async def test_wrong_credentials_are_misconfigured(live: Live) -> None:
    wrong = flashcall_channel(live.sim, live.receiver.url, auth_token="not-the-token")
    other = flashcall_channel(live.sim, live.receiver.url, account_sid="AC" + "0" * 32)
    try:
        assert await wrong.send(outbound("+380501234569")) == Misconfigured("AUTH_FAILED")
        assert await other.send(outbound("+380501234569")) == Misconfigured("AUTH_FAILED")
    finally:
        await wrong.aclose()
        await other.aclose()
    assert (await live.admin.get("/_sim/received")).json() == []


async def test_invalid_number_is_unreachable(live: Live) -> None:
    assert await live.channel.send(outbound("0501234569")) == Unreachable("INVALID_NUMBER")


async def test_create_call_errors_look_like_twilios(live: Live) -> None:
    auth = (ACCOUNT, TOKEN)
    path = f"/2010-04-01/Accounts/{ACCOUNT}/Calls.json"
    base = {"To": "+380501234569", "From": PREFIX + "0042", "Twiml": "<Response/>"}
    cases: list[tuple[dict[str, str], int]] = [
        ({"From": base["From"], "Twiml": base["Twiml"]}, 21201),
        ({"To": base["To"], "Twiml": base["Twiml"]}, 21213),
        ({"To": base["To"], "From": base["From"]}, 21205),
        ({**base, "Timeout": "0"}, 21208),
        ({**base, "Timeout": "601"}, 21208),
        ({**base, "Timeout": "ten"}, 21208),
        ({**base, "StatusCallbackEvent": "hangup"}, 21626),
        ({**base, "StatusCallback": "ftp://x"}, 21205),
        ({**base, "From": "4420"}, 21210),
    ]
    for form, code in cases:
        response = await live.admin.post(path, data=form, auth=auth)
        assert response.status_code == 400, form
        body = response.json()
        assert body["code"] == code
        assert body["status"] == 400
        assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
        assert body["message"]
    unauthenticated = await live.admin.post(path, data=base)
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["code"] == 20003
    created = await live.admin.post(path, data=base, auth=auth)
    assert created.status_code == 201
    assert created.json()["status"] == "queued"
    assert created.json()["from"] == base["From"]


async def test_every_requested_event_is_reported_and_signed(live: Live) -> None:
    form = [
        ("To", "+380501234569"),
        ("From", PREFIX + "0042"),
        ("Twiml", "<Response><Hangup/></Response>"),
        ("StatusCallback", f"{live.receiver.url}/webhooks/flashcall/flashcall?attempt=a1"),
        ("StatusCallbackEvent", "initiated"),
        ("StatusCallbackEvent", "ringing answered"),  # both forms Twilio's libraries send
        ("StatusCallbackEvent", "completed"),
    ]
    path = f"/2010-04-01/Accounts/{ACCOUNT}/Calls.json"
    response = await live.admin.post(
        path,
        content=urlencode(form),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=(ACCOUNT, TOKEN),
    )
    assert response.status_code == 201
    sid = response.json()["sid"]
    await wait_for(lambda: bool(reports(live.receiver, sid)))
    seen = live.receiver.callbacks()
    assert [(c.kind, c.status) for c in seen] == [
        ("initiated", 200),
        ("ringing", 200),
        ("no-answer", 200),
    ]
    assert [len(c.events) for c in seen] == [0, 0, 1]
    # the simulator records a callback once the receiver has answered it
    await wait_for(lambda: len(live.simulator.callbacks) == 3)
    posted = (await live.admin.get("/_sim/callbacks")).json()
    assert [(c["call_status"], c["sequence"], c["http_status"]) for c in posted] == [
        ("initiated", 0, 200),
        ("ringing", 1, 200),
        ("no-answer", 2, 200),
    ]


async def test_receiver_checking_another_token_refuses_every_callback(live: Live) -> None:
    outcome = await live.channel.send(outbound("+380501234569", sender=IMPOSTOR))
    assert isinstance(outcome, Sent)
    await wait_for(lambda: bool(live.receiver.callbacks()))
    assert [(c.kind, c.status) for c in live.receiver.callbacks()] == [("no-answer", 403)]
    assert live.receiver.events() == []
    await wait_for(lambda: len(live.simulator.callbacks) == 1)
    (posted,) = (await live.admin.get("/_sim/callbacks")).json()
    assert posted["http_status"] == 403


async def test_forged_callback_is_rejected(live: Live) -> None:
    url = f"{live.receiver.url}/webhooks/flashcall/flashcall"
    params = [("CallSid", "CA" + "1" * 32), ("CallStatus", "completed")]
    async with httpx.AsyncClient(timeout=5) as client:
        unsigned = await client.post(url, data=dict(params))
        forged = await client.post(
            url,
            data=dict(params),
            headers={"X-Twilio-Signature": signature(url, params, "guessed-token")},
        )
        genuine = await client.post(
            url, data=dict(params), headers={"X-Twilio-Signature": signature(url, params, TOKEN)}
        )
    assert (unsigned.status_code, forged.status_code, genuine.status_code) == (403, 403, 200)
    assert len(live.receiver.events()) == 1


async def test_admin_controls(live: Live) -> None:
    assert (await live.admin.put("/_sim/script/12345", json={})).status_code == 400
    await live.channel.send(outbound("+380501234569"))
    await wait_for(lambda: bool(live.receiver.events()))
    assert len((await live.admin.get("/_sim/received")).json()) == 1
    assert (await live.admin.get("/_sim/received", params={"phone": "+1"})).json() == []
    assert (await live.admin.delete("/_sim/received")).status_code == 204
    assert (await live.admin.get("/_sim/received")).json() == []
    assert (await live.admin.get("/_sim/callbacks")).json() == []


# --- a caller number the message names ----------------------------------------------------------

OWN_CALLER = "+380441239876"


@pytest.fixture
async def owned() -> AsyncIterator[Live]:
    """The account owns the block of caller numbers the channel draws codes from."""
    receiver = Receiver("flashcall", handle_webhook, (SENDER,), form_field("CallStatus"))
    simulator = FlashCallSimulator(ring_ms=50)
    app = create_app(simulator, accounts={ACCOUNT: TOKEN}, number_blocks={ACCOUNT: PREFIX})
    async with live_on(
        app, simulator, receiver, lambda url: flashcall_channel(url, receiver.url)
    ) as live:
        yield live


def calling_from(phone: str, caller_id: str) -> Outbound:
    return numbered_outbound_to(
        phone,
        SENDER,
        content=Content(caller_id=caller_id),
        message_type="flashcall",
        ttl_remaining_s=300,
    )


async def test_a_verified_caller_id_carries_the_code(owned: Live) -> None:
    phone = "+380501234569"
    auth = (ACCOUNT, TOKEN)
    callers = f"/2010-04-01/Accounts/{ACCOUNT}/OutgoingCallerIds.json"
    # not the account's number yet: this message fails, nothing rings
    outcome = await owned.channel.send(calling_from(phone, OWN_CALLER))
    assert outcome == Failed("CALLER_ID_NOT_VERIFIED")
    assert owned.simulator.calls == []

    verified = await owned.admin.post(callers, data={"PhoneNumber": OWN_CALLER}, auth=auth)
    assert verified.status_code == 201
    assert verified.json()["phone_number"] == OWN_CALLER
    listed = (await owned.admin.get(callers, auth=auth)).json()["outgoing_caller_ids"]
    assert [c["phone_number"] for c in listed] == [OWN_CALLER]

    outcome = await owned.channel.send(calling_from(phone, OWN_CALLER))
    assert isinstance(outcome, Sent)
    assert (outcome.secret, outcome.detail) == ("9876", f"{OWN_CALLER} (***9876)")
    # a drawn code still comes from the account's own block
    drawn = await owned.channel.send(outbound("+380501234568"))
    assert isinstance(drawn, Sent)
    assert drawn.secret is not None
    received = (await owned.admin.get("/_sim/received")).json()
    assert [(c["to"], c["from"]) for c in received] == [
        (phone, OWN_CALLER),
        ("+380501234568", PREFIX + drawn.secret),
    ]
    await wait_for(lambda: len(reports(owned.receiver, outcome.provider_id)) == 1)


async def test_caller_ids_need_the_account_and_a_number(owned: Live) -> None:
    callers = f"/2010-04-01/Accounts/{ACCOUNT}/OutgoingCallerIds.json"
    unauthenticated = await owned.admin.post(callers, data={"PhoneNumber": OWN_CALLER})
    assert (unauthenticated.status_code, unauthenticated.json()["code"]) == (401, 20003)
    bad = await owned.admin.post(callers, data={"PhoneNumber": "12345"}, auth=(ACCOUNT, TOKEN))
    assert (bad.status_code, bad.json()["code"]) == (400, 21450)
    assert owned.simulator.caller_ids == {}
