"""End-to-end delivery over all six channels, with real processes (SPEC B, C; Part B3).

One installation (tests/e2e_stack.py `build_channel_stack`) runs every channel against its
simulator: Telegram and Viber bots, Viber Business Messages (Vonage), RCS (RBM, with a
service account and its OAuth token endpoint), SMS over SMPP to an SMSC, and flash calls
(Twilio). `cascade api` and `cascade worker` are separate processes; every channel's
delivery window is 3 s. The SMSC-drop test builds an installation of its own (a long SMS
window, and the SMPP session it breaks is its own). Recipients are the sandbox personas
by their phone's last digit (1 Telegram, 2 Viber bot, 3 Viber user, 4 RCS, 5 never
confirms, 6/0 plain phone, 9 takes flash calls) unless a test scripts a simulator
explicitly. Messages go in through the public API; what happened is read from the status
endpoint and counted at the simulators.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from cascade.simulators.flashcall import sign as twilio_sign
from cascade.simulators.rcs import sign as rbm_sign
from cascade.simulators.viber_business import signed_token as vonage_token
from tests.e2e_stack import (
    CALLER_PREFIX,
    FINAL,
    RBM_AGENT,
    RBM_CLIENT_TOKEN,
    TWILIO_SID,
    TWILIO_TOKEN,
    VONAGE_KEY,
    VONAGE_SERVICE_ID,
    VONAGE_SIGNATURE_SECRET,
    ChannelStack,
    build_channel_stack,
)
from tests.media_server import media_server

pytestmark = pytest.mark.live

WINDOW_S = 3
FROM_NAME = "Cascade e2e"  # 11 characters: SMS shows it as an alphanumeric sender
STANDARD = ["telegram", "viber_bot", "viber_business", "rcs", "sms"]
# How each earlier step explains itself for a plain phone (persona 6 / 0).
EXPLAINED = [
    ("telegram", "unreachable", "NO_CHAT"),
    ("viber_bot", "unreachable", "NOT_SUBSCRIBED"),
    ("viber_business", "unreachable", "NOT_VIBER_USER"),
    ("rcs", "unreachable", "NO_RCS"),
]

_numbers = itertools.count(1)


def phone(digit: int) -> str:
    """A fresh Ukrainian mobile number ending in `digit` (its sandbox persona)."""
    return f"+380503{next(_numbers):05d}{digit}"


def unique_text(label: str) -> str:
    return f"{label} {uuid.uuid4().hex[:12]}"


def when(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def steps(shown: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(a["channel"], a["status"], a.get("reason")) for a in shown["attempts"]]


def attempt_on(shown: dict[str, Any], channel: str) -> dict[str, Any]:
    [found] = [a for a in shown["attempts"] if a["channel"] == channel]
    return found


def waiting_on(channel: str) -> Callable[[dict[str, Any]], bool]:
    """A status predicate: the `channel` attempt was sent and waits for its report."""

    def check(shown: dict[str, Any]) -> bool:
        return any(
            a["channel"] == channel and a["status"] == "sent" and a.get("providerMessageId")
            for a in shown["attempts"]
        )

    return check


def message(
    to: str, text: str | None, message_type: str = "transaction", **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": f"ch-{uuid.uuid4().hex}",
        "fromName": FROM_NAME,
        "toPhone": to,
        "messageType": message_type,
        **extra,
    }
    if text is not None:
        body["text"] = text
    return body


def validity_seconds(period: str) -> int:
    """An SMPP relative validity period `YYMMDDhhmmss000R` in seconds."""
    assert period.endswith("R"), period
    years, months, days, hours, minutes, seconds = (int(period[i : i + 2]) for i in range(0, 12, 2))
    return ((((years * 365 + months * 30 + days) * 24 + hours) * 60) + minutes) * 60 + seconds


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChannelStack]:
    running = build_channel_stack(tmp_path_factory.mktemp("channels"), window_s=WINDOW_S)
    try:
        yield running
    finally:
        running.close()


# --- the route, step by step -----------------------------------------------------------------


def test_a_phone_reachable_only_by_sms_gets_it_after_four_explained_steps(
    stack: ChannelStack,
) -> None:
    to = phone(6)
    text = unique_text("sms only")

    shown = stack.wait_final(stack.send_one(to, text))

    assert shown["status"] == "delivered", shown
    assert shown["channel"] == "sms"
    assert steps(shown) == [*EXPLAINED, ("sms", "delivered", None)], shown
    for attempt in shown["attempts"]:
        assert attempt["finishedAt"], attempt
    # Viber Business was asked (it answers by report only); RCS was asked its capabilities
    vbiz = attempt_on(shown, "viber_business")
    assert vbiz["providerMessageId"]
    assert [r["text"] for r in stack.sim_get("viber_business", "received", phone=to)] == [text]
    assert stack.sim_get("rcs", "received", phone=to) == []
    sms = attempt_on(shown, "sms")
    assert sms["providerMessageId"]
    assert sms["parts"] == 1
    [got] = stack.sms_received(to)
    assert got["text"] == text
    assert (got["source_addr"], got["source_ton"]) == (FROM_NAME, 5)
    assert got["data_coding"] == 0  # GSM-7
    assert got["message_ids"] == [sms["providerMessageId"]]


def test_an_rcs_capable_phone_gets_rcs(stack: ChannelStack) -> None:
    to = phone(4)
    text = unique_text("rcs")

    shown = stack.wait_final(stack.send_one(to, text))

    assert shown["status"] == "delivered", shown
    assert shown["channel"] == "rcs"
    assert steps(shown) == [*EXPLAINED[:3], ("rcs", "delivered", None)], shown
    [got] = stack.sim_get("rcs", "received", phone=to)
    assert got["message_id"] == attempt_on(shown, "rcs")["providerMessageId"]
    assert got["body"]["contentMessage"] == {"text": text}
    assert got["body"]["messageTrafficType"] == "TRANSACTION"
    assert got["state"] == "delivered"
    # RBM withdraws it at expireTime: the message's own expiry
    assert abs(got["expire_at_ms"] - when(shown["expiresAt"]).timestamp() * 1000) < 2000
    assert stack.sms_received(to) == []


def test_a_long_cyrillic_text_goes_as_ucs2_in_three_parts_all_receipted(
    stack: ChannelStack,
) -> None:
    to = phone(0)
    tag = uuid.uuid4().hex[:8]
    filler = "Ваше замовлення підтверджено, дякуємо за покупку! "
    text = (f"{tag} " + filler * 5)[:200]
    assert len(text) == 200

    shown = stack.wait_final(stack.send_one(to, text))

    assert shown["status"] == "delivered", shown
    assert shown["channel"] == "sms"
    sms = attempt_on(shown, "sms")
    assert sms["status"] == "delivered", sms
    assert sms["parts"] == 3, sms
    assert sms["detail"] == "UCS-2, 3 parts", sms
    [got] = stack.sms_received(to)
    assert got["text"] == text  # reassembled from its parts at the SMSC
    assert got["parts"] == 3
    assert got["data_coding"] == 8  # UCS-2
    parts = [p for p in stack.sim_get("sms", "parts") if p["phone"] == to]
    assert [(p["sequence"], p["total"]) for p in parts] == [(1, 3), (2, 3), (3, 3)]
    assert len({p["reference"] for p in parts}) == 1
    assert max(len(p["text"]) for p in parts) <= 67
    # delivered only once every part's receipt came back and was taken
    receipts = {r["message_id"] for r in stack.sim_get("sms", "receipts") if r["phone"] == to}
    assert receipts == set(got["message_ids"])


def test_a_survey_over_sms_arrives_as_numbered_lines(stack: ChannelStack) -> None:
    to = phone(6)
    question = f"Did parcel {uuid.uuid4().hex[:8]} arrive?"
    options = ["Yes", "No", "Not yet"]

    [message_id] = stack.send([message(to, question, "viber_survey", surveyOptions=options)])
    shown = stack.wait_final(message_id)

    assert shown["status"] == "delivered", shown
    assert steps(shown) == [
        ("viber_bot", "unreachable", "NOT_SUBSCRIBED"),
        ("viber_business", "unreachable", "NOT_VIBER_USER"),
        ("sms", "delivered", None),
    ], shown
    [got] = stack.sms_received(to)
    assert got["text"] == f"{question}\n1. Yes\n2. No\n3. Not yet"


def test_a_promo_is_a_rich_card_on_rcs_and_text_with_its_link_by_sms(
    stack: ChannelStack,
) -> None:
    to_rcs, to_sms = phone(4), phone(6)
    text = unique_text("Spring sale: 20% off everything")
    button = "https://shop.example.com/spring?src=cascade"
    with media_server() as host:  # RBM fetches the card's image before it takes the message
        image = host.url("card.png")
        media = {"imageUrl": image, "buttonText": "Shop now", "buttonUrl": button}
        ids = stack.send([message(to, text, "promo", **media) for to in (to_rcs, to_sms)])
        on_rcs, by_sms = (stack.wait_final(i) for i in ids)

    assert (on_rcs["status"], on_rcs["channel"]) == ("delivered", "rcs"), on_rcs
    [card_message] = stack.sim_get("rcs", "received", phone=to_rcs)
    body = card_message["body"]
    assert body["messageTrafficType"] == "PROMOTION"
    assert "text" not in body["contentMessage"]
    card = body["contentMessage"]["richCard"]["standaloneCard"]
    content = card["cardContent"]
    assert content["description"] == text
    assert content["media"]["contentInfo"]["fileUrl"] == image
    [suggestion] = content["suggestions"]
    assert suggestion["action"]["text"] == "Shop now"
    assert suggestion["action"]["openUrlAction"] == {"url": button}

    assert (by_sms["status"], by_sms["channel"]) == ("delivered", "sms"), by_sms
    [sms] = stack.sms_received(to_sms)
    assert sms["text"] == f"{text}\n{button}"


def test_a_phone_that_never_confirms_waits_out_each_window_then_gets_sms(
    stack: ChannelStack,
) -> None:
    to = phone(5)  # a Viber bot subscriber (and Viber user) whose phone never confirms
    stack.onboard_viber(to)
    text = unique_text("never confirms")

    shown = stack.wait_final(stack.send_one(to, text), timeout=3 * WINDOW_S + 15)

    assert shown["status"] == "delivered", shown
    assert steps(shown) == [
        ("telegram", "unreachable", "NO_CHAT"),
        ("viber_bot", "timeout", "NO_CONFIRMATION"),
        ("viber_business", "timeout", "NO_CONFIRMATION"),
        ("rcs", "unreachable", "NO_RCS"),
        ("sms", "delivered", None),
    ], shown
    for channel in ("viber_bot", "viber_business"):
        attempt = attempt_on(shown, channel)
        waited = when(attempt["finishedAt"]) - when(attempt["startedAt"])
        assert timedelta(seconds=WINDOW_S - 0.1) <= waited < timedelta(seconds=WINDOW_S + 2)
    assert [r["text"] for r in stack.vb_received(to)] == [text]
    assert [r["text"] for r in stack.sim_get("viber_business", "received", phone=to)] == [text]
    assert [r["text"] for r in stack.sms_received(to)] == [text]


# --- the SMSC misbehaving ---------------------------------------------------------------------


def test_a_throttling_smsc_pauses_sms_and_nothing_is_lost_or_doubled(
    stack: ChannelStack,
) -> None:
    slow, other = phone(6), phone(0)
    stack.script_on("sms", slow, reachable=True, deliver_after_ms=50, throttle=True)
    try:
        sent = {
            stack.send_one(slow, unique_text("throttled a")): slow,
            stack.send_one(slow, unique_text("throttled b")): slow,
            stack.send_one(other, unique_text("throttled c")): other,
        }
        first = next(iter(sent))
        paused = stack.wait_status(
            first,
            lambda s: any(a["channel"] == "sms" and a["status"] == "paused" for a in s["attempts"]),
            what="a paused SMS attempt",
        )
        assert paused["status"] == "processing", paused
        assert attempt_on(paused, "sms")["reason"] == "ESME_RTHROTTLED", paused
        assert stack.sms_received(slow) == []  # ESME_RTHROTTLED: the SMSC took nothing
    finally:
        stack.script_on("sms", slow, reachable=True, deliver_after_ms=50)  # the flood is over

    delivered = []
    for message_id in sent:
        shown = stack.wait_final(message_id, timeout=40)
        assert shown["status"] == "delivered", shown
        assert shown["channel"] == "sms"
        # paused and resumed on the same attempt: one SMS attempt, not a failure and a retry
        assert [a["channel"] for a in shown["attempts"]] == STANDARD, shown
        delivered.append(shown["text"])
    stack.wait_settled(sent)
    at_smsc = Counter(r["text"] for r in stack.sms_received())
    for text in delivered:
        assert at_smsc[text] == 1, text


def test_a_receipt_after_the_ttl_is_still_recorded(stack: ChannelStack) -> None:
    to = phone(6)
    stack.script_on("sms", to, reachable=True, deliver_after_ms=6000)  # long after the TTL
    text = unique_text("late receipt")

    message_id = stack.send_one(to, text, ttl=3)
    shown = stack.wait_final(message_id, timeout=15)

    assert shown["status"] == "expired", shown
    sms = attempt_on(shown, "sms")
    assert sms["status"] not in ("delivered", "read"), sms
    [got] = stack.sms_received(to)
    assert 1 <= validity_seconds(got["validity_period"]) <= 3  # the SMSC was told the TTL
    late = stack.wait_status(
        message_id,
        lambda s: attempt_on(s, "sms")["status"] == "delivered",
        timeout=15,
        what="the late receipt recorded on the SMS attempt",
    )
    assert late["status"] == "expired", late  # the message stays as it ended
    sms = attempt_on(late, "sms")
    assert sms["providerMessageId"] == got["message_ids"][0]
    assert when(sms["finishedAt"]) > when(late["expiresAt"]), sms
    assert len(stack.sms_received(to)) == 1


# --- flash calls ------------------------------------------------------------------------------


def test_a_failed_flash_call_delivers_its_fallback_text(stack: ChannelStack) -> None:
    to = phone(3)  # takes no flash calls; a Viber user (Viber Business delivers)
    fallback = unique_text("Your code is in the call log; if it did not ring: 1234")

    [message_id] = stack.send([message(to, None, "flashcall", fallback={"text": fallback})])
    shown = stack.wait_final(message_id)

    assert shown["status"] == "delivered", shown
    assert shown["channel"] == "viber_business"
    [call, *rest] = shown["attempts"]
    assert call["channel"] == "flashcall"
    assert call["status"] == "failed", call
    assert call["reason"].startswith("CALL_FAILED"), call
    assert [(a["channel"], a["status"]) for a in rest] == [
        ("telegram", "unreachable"),
        ("viber_bot", "unreachable"),
        ("viber_business", "delivered"),
    ], shown
    [placed] = stack.sim_get("flashcall", "received", phone=to)
    assert placed["from"].startswith(CALLER_PREFIX)
    assert placed["status"] == "failed"
    [got] = stack.sim_get("viber_business", "received", phone=to)
    assert got["text"] == fallback


def flash_call(stack: ChannelStack, to: str) -> tuple[str, str]:
    """Send a flash call; its message id and the caller number the status shows."""
    [message_id] = stack.send([message(to, None, "flashcall")])
    shown = stack.wait_status(
        message_id,
        lambda s: any(a["channel"] == "flashcall" and a.get("detail") for a in s["attempts"]),
        what="a placed flash call",
    )
    detail = attempt_on(shown, "flashcall")["detail"]
    found = re.fullmatch(r"(\+[0-9]+) \(\*\*\*([0-9]{6})\)", detail)
    assert found, detail
    caller = found.group(1)
    assert caller.startswith(CALLER_PREFIX)
    assert len(caller) == len(CALLER_PREFIX) + 4
    assert found.group(2) == caller[-6:]
    calls = stack.sim_get("flashcall", "received", phone=to)
    assert calls[-1]["from"] == caller  # the number that rang is the one shown
    return message_id, caller


def test_a_wrong_flash_call_code_is_refused_and_attempts_are_limited(
    stack: ChannelStack,
) -> None:
    to = phone(9)  # answers flash calls
    message_id, caller = flash_call(stack, to)
    right = caller[-4:]
    wrong = f"{(int(right) + 1) % 10_000:04d}"

    for expected in ("WRONG_CODE", "WRONG_CODE", "ATTEMPTS_EXHAUSTED"):
        answer = stack.verify(message_id, wrong)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == expected, answer.text
    answer = stack.verify(message_id, right)  # too late: the attempts are used up
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "ATTEMPTS_EXHAUSTED", answer.text

    second, second_caller = flash_call(stack, to)
    answer = stack.verify(second, second_caller[-4:])
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"messageId": second, "verified": True}

    for call_id in (message_id, second):
        shown = stack.wait_final(call_id)
        assert (shown["status"], shown["channel"]) == ("delivered", "flashcall"), shown


# --- forged webhooks --------------------------------------------------------------------------


def test_a_forged_vonage_status_webhook_is_refused_and_changes_nothing(
    stack: ChannelStack,
) -> None:
    to = phone(5)  # a Viber user whose phone never confirms; not a bot subscriber here
    message_id = stack.send_one(to, unique_text("forged vonage"))
    waiting = stack.wait_status(message_id, waiting_on("viber_business"), what="a Vonage send")
    report = {
        "message_uuid": attempt_on(waiting, "viber_business")["providerMessageId"],
        "to": to.removeprefix("+"),
        "from": VONAGE_SERVICE_ID,
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "status": "delivered",
        "channel": "viber_service",
    }
    body = json.dumps(report).encode()
    url = f"{stack.api_url}/webhooks/viber_business/viber_business"
    json_type = {"Content-Type": "application/json"}
    lifted = vonage_token(b'{"status":"submitted"}', VONAGE_SIGNATURE_SECRET, VONAGE_KEY)
    for authorization in (
        f"Bearer {vonage_token(body, 'not-the-signature-secret', VONAGE_KEY)}",
        f"Bearer {lifted}",  # a genuine token for another body
        None,
    ):
        headers = {**json_type, **({"Authorization": authorization} if authorization else {})}
        answer = stack.http.post(url, content=body, headers=headers)
        assert answer.status_code in (401, 403), answer.text
    assert stack.status(message_id) == waiting

    genuine = f"Bearer {vonage_token(body, VONAGE_SIGNATURE_SECRET, VONAGE_KEY)}"
    answer = stack.http.post(url, content=body, headers={**json_type, "Authorization": genuine})
    assert answer.status_code == 200, answer.text
    shown = stack.status(message_id)
    assert (shown["status"], shown["channel"]) == ("delivered", "viber_business"), shown


def test_a_forged_rbm_event_is_refused_and_changes_nothing(stack: ChannelStack) -> None:
    to = phone(6)
    stack.script_on("rcs", to, reachable=True, deliver_after_ms=None)  # never confirms
    message_id = stack.send_one(to, unique_text("forged rbm"))
    waiting = stack.wait_status(message_id, waiting_on("rcs"), what="an RBM send")
    event = {
        "senderPhoneNumber": to,
        "eventType": "DELIVERED",
        "eventId": f"MxE2E{uuid.uuid4().hex[:12]}",
        "messageId": attempt_on(waiting, "rcs")["providerMessageId"],
        "sendTime": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "agentId": RBM_AGENT,
    }
    data = json.dumps(event).encode()
    push = {
        "message": {
            "data": base64.b64encode(data).decode(),
            "messageId": str(uuid.uuid4().int)[:16],
            "publishTime": event["sendTime"],
            "attributes": {},
        },
        "subscription": f"projects/rbm-{RBM_AGENT}/subscriptions/rbm",
    }
    body = json.dumps(push).encode()
    url = f"{stack.api_url}/webhooks/rcs/rcs"
    json_type = {"Content-Type": "application/json"}
    for signature in (rbm_sign(data, "NOTTHECLIENTTOKEN"), rbm_sign(body, RBM_CLIENT_TOKEN), None):
        headers = {**json_type, **({"X-Goog-Signature": signature} if signature else {})}
        answer = stack.http.post(url, content=body, headers=headers)
        assert answer.status_code in (401, 403), answer.text
    assert stack.status(message_id) == waiting

    signed = {**json_type, "X-Goog-Signature": rbm_sign(data, RBM_CLIENT_TOKEN)}
    answer = stack.http.post(url, content=body, headers=signed)
    assert answer.status_code == 200, answer.text
    shown = stack.status(message_id)
    assert (shown["status"], shown["channel"]) == ("delivered", "rcs"), shown


def test_a_forged_twilio_callback_is_refused_and_changes_nothing(stack: ChannelStack) -> None:
    to = phone(6)
    stack.script_on("flashcall", to, reachable=True, deliver_after_ms=None)  # rings on
    [message_id] = stack.send([message(to, None, "flashcall")])
    waiting = stack.wait_status(message_id, waiting_on("flashcall"), what="a placed call")
    [call] = stack.sim_get("flashcall", "received", phone=to)
    call_sid = attempt_on(waiting, "flashcall")["providerMessageId"]
    assert call_sid == call["sid"]
    params = [
        ("AccountSid", TWILIO_SID),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", call_sid),
        ("CallStatus", "no-answer"),
        ("Called", to),
        ("Caller", call["from"]),
        ("Direction", "outbound-api"),
        ("From", call["from"]),
        ("To", to),
        ("CallDuration", "0"),
        ("SequenceNumber", "0"),
    ]
    body = urlencode(params)
    url = f"{stack.api_url}/webhooks/flashcall/flashcall"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for signature in (
        twilio_sign(url, params, "not-the-auth-token"),
        twilio_sign(f"{url}?other=1", params, TWILIO_TOKEN),  # signed for another URL
        None,
    ):
        headers = {**form, **({"X-Twilio-Signature": signature} if signature else {})}
        answer = stack.http.post(url, content=body, headers=headers)
        assert answer.status_code in (401, 403), answer.text
    assert stack.status(message_id) == waiting

    signed = {**form, "X-Twilio-Signature": twilio_sign(url, params, TWILIO_TOKEN)}
    answer = stack.http.post(url, content=body, headers=signed)
    assert answer.status_code == 200, answer.text
    shown = stack.status(message_id)
    assert (shown["status"], shown["channel"]) == ("delivered", "flashcall"), shown


# --- the SMSC dropping the link (an installation of its own) -----------------------------------


@pytest.fixture
def drop_stack(tmp_path: Path) -> Iterator[ChannelStack]:
    """Every channel again, with a long SMS window: whether a message that reached the
    SMSC ends delivered must depend on its receipt being matched, not on how long the
    SMSC takes to offer the receipts it held across the drop."""
    running = build_channel_stack(
        tmp_path / "drop", window_s=WINDOW_S, settings={"SMS_WINDOW_S": "120"}
    )
    try:
        yield running
    finally:
        running.close()


def test_the_smsc_dropping_the_link_with_submits_in_flight_delivers_each_once(
    drop_stack: ChannelStack,
) -> None:
    stack = drop_stack
    count = 50
    phones = [phone(6 if n % 2 else 0) for n in range(count)]
    dropper = phones[count // 2]
    stack.script_on("sms", dropper, reachable=True, deliver_after_ms=50, drop_connection=True)
    worker = stack.workers[0]
    bound = "SMPP transceiver bound"
    binds_before = worker.output().count(bound)
    texts = [f"drop {n:02d} {uuid.uuid4().hex[:10]}" for n in range(count)]
    ours = set(texts)

    def taken() -> list[dict[str, Any]]:
        return [r for r in stack.sms_received() if r["text"] in ours]

    ids = stack.send([message(to, text) for to, text in zip(phones, texts, strict=True)])
    reconnected_ms: int | None = None
    deadline = time.monotonic() + 30
    while reconnected_ms is None or len({r["text"] for r in taken()}) < count:
        if reconnected_ms is None and worker.output().count(bound) > binds_before:
            reconnected_ms = time.time_ns() // 1_000_000  # within a poll of the new bind
        assert time.monotonic() < deadline, (
            f"reconnected: {reconnected_ms}, taken: {len(taken())}\n{stack.logs()}"
        )
        time.sleep(0.05)

    # exactly once at the SMSC: nothing in doubt was submitted again, nothing was lost
    counted = Counter(r["text"] for r in taken())
    assert counted == Counter(texts), {t: n for t, n in counted.items() if n != 1}
    # the submits taken on the dropped link were never answered: those sends are in doubt
    unanswered = {r["text"] for r in taken() if not r["answered"]}
    assert texts[count // 2] in unanswered, unanswered
    right_after = {
        m: stack.wait_final(m, timeout=20)
        for m, t in zip(ids, texts, strict=True)
        if t in unanswered
    }
    for status in right_after.values():
        sms = attempt_on(status, "sms")
        if status["status"] == "undeliverable":  # reported, never silently lost or repeated
            assert status["reason"] == "IN_DOUBT", status
            assert sms["status"] == "unknown", status
        else:  # its receipt was matched already
            assert (status["status"], sms["status"]) == ("delivered", "delivered"), status

    # the session is back: a later message goes through as usual
    after = phone(6)
    text = unique_text("after the drop")
    shown_after = stack.wait_final(stack.send_one(after, text))
    assert (shown_after["status"], shown_after["channel"]) == ("delivered", "sms"), shown_after
    assert [r["text"] for r in stack.sms_received(after)] == [text]

    # Every receipt the SMSC held goes out once the account is bound again; a receipt names
    # its recipient and its text's start, which settles a send left in doubt.
    parts = {i: r for r in taken() for i in r["message_ids"]}
    deadline = time.monotonic() + 60
    while set(parts) - {r["message_id"] for r in stack.sim_get("sms", "receipts")}:
        assert time.monotonic() < deadline, "receipts still held at the SMSC after 60 s"
        time.sleep(0.2)
    receipts = {
        r["message_id"]: r for r in stack.sim_get("sms", "receipts") if r["message_id"] in parts
    }
    by_text = {r["text"]: r for r in taken()}
    for message_id, text in zip(ids, texts, strict=True):
        status = stack.wait_status(
            message_id,
            lambda s: s["status"] in FINAL,
            timeout=5,
            what="a final status once its receipt was taken",
        )
        assert status["status"] == "delivered", status
        sms = attempt_on(status, "sms")
        assert sms["status"] == "delivered", status
        assert sms["providerMessageId"] == by_text[text]["message_ids"][0], status
    ended = Counter(f"{right_after[m]['status']}/{right_after[m]['reason']}" for m in right_after)
    assert Counter(r["text"] for r in taken()) == Counter(texts)  # still once each
    print(
        f"\nthe SMSC dropped the link with {len(unanswered)} of {count} submits unanswered; "
        f"right after the drop they were {dict(ended)}, once their receipts were matched "
        f"all delivered"
    )

    # How long the held receipts took: an SMSC offers what it stored again on the new bind
    # (here within 5 s of it). The simulator's receipts that queued behind the dropped
    # connection's receipt window each wait out RECEIPT_TIMEOUT_S (10 s) first, in waves.
    assert reconnected_ms is not None
    slow = {
        parts[i]["text"]: r["at_ms"] - max(parts[i]["at_ms"], reconnected_ms)
        for i, r in receipts.items()
        if r["at_ms"] - max(parts[i]["at_ms"], reconnected_ms) > 5_000
    }
    assert not slow, f"receipts offered long after the rebind (ms late): {slow}"
