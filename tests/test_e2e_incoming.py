"""End-to-end: what people write back reaches the account's incoming URL (SPEC D7), with
real processes on loopback (tests/e2e_stack.py `build_channel_stack`: `cascade api`,
`cascade worker`, the SMSC and Vonage simulators as processes, RBM's in this process).

Each test registers an incoming URL with the CLI (`cascade callbacks add … --incoming`),
lets the account write to a phone the ordinary way, then has the phone answer through its
simulator's `/_sim/` control — an SMPP mobile-originated `deliver_sm` in two pieces that
arrive out of order, a Vonage inbound message, an RBM user message — and reads what the
receiver on loopback got: the five fields, signed with the callback's secret, and (the
receiver answers 500 first) sent again after a backoff until it answered 200.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.e2e_stack import SMS_SENDER, ChannelStack, build_channel_stack
from tests.test_e2e_delivery import Hit, Receiver
from tests.test_e2e_delivery import receiver as receiver  # the fixture, used by name

pytestmark = pytest.mark.live

FROM_NAME = "Cascade e2e"  # what stack.send_one sends under: the name a reply answers


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChannelStack]:
    running = build_channel_stack(tmp_path_factory.mktemp("incoming"), window_s=3)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def incoming_url(stack: ChannelStack, receiver: Receiver) -> Iterator[str]:
    """The receiver registered as the account's incoming URL: its signing secret."""
    out = stack.cli("callbacks", "add", receiver.url, "--account", stack.account_id, "--incoming")
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    assert fields["kind"].strip() == "incoming"
    try:
        yield fields["secret"].strip()
    finally:
        stack.cli(
            "callbacks", "remove", fields["callback id"].strip(), "--account", stack.account_id
        )


def delivered_on(stack: ChannelStack, phone: str, channel: str) -> None:
    """The account writes to `phone`, and it arrives on `channel` (its persona's)."""
    message_id = stack.send_one(phone, f"Your order is on its way {uuid.uuid4().hex[:8]}")
    shown = stack.wait_final(message_id)
    assert (shown["status"], shown["channel"]) == ("delivered", channel), shown


def acknowledged(receiver: Receiver, secret: str, timeout: float = 30) -> list[tuple[Hit, Any]]:
    """The receiver's hits, once one was answered 200; each signature checked."""
    deadline = time.monotonic() + timeout
    while not any(hit.answered == 200 for hit in receiver.snapshot()):
        assert time.monotonic() < deadline, receiver.snapshot()
        time.sleep(0.05)
    hits = receiver.snapshot()
    for hit in hits:
        expected = hmac.new(secret.encode(), hit.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(hit.signature, "sha256=" + expected), hit
    return [(hit, json.loads(hit.body)) for hit in hits]


def check_retried(hits: list[tuple[Hit, Any]]) -> dict[str, Any]:
    """The one message: answered 500 first, sent again byte for byte after a backoff."""
    (first, body), (again, _) = hits[0], hits[-1]
    assert (first.answered, again.answered) == (500, 200)
    assert again.body == first.body
    assert again.at - first.at >= 0.5  # after a backoff, not at once
    assert set(body) == {"idUuid", "alphaName", "phoneNumber", "text", "dt"}
    uuid.UUID(body["idUuid"])
    moment = datetime.fromisoformat(body["dt"].replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - moment).total_seconds()) < 60
    return dict(body)


def test_an_sms_reply_in_two_pieces_arrives_joined_signed_and_retried_after_a_500(
    stack: ChannelStack, receiver: Receiver, incoming_url: str
) -> None:
    phone = "+380504440016"  # a plain phone: the account's message reaches it by SMS
    delivered_on(stack, phone, "sms")
    text = "Thanks! Could the courier come after six? " * 5  # 215 GSM-7 characters
    sent = stack.http.post(
        f"{stack.smsc_url}/_sim/mo",
        json={"from": phone, "to": SMS_SENDER, "text": text, "pieces": [2, 1]},
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["total"] == 2

    body = check_retried(acknowledged(receiver, incoming_url))

    assert (body["phoneNumber"], body["text"], body["alphaName"]) == (phone, text, FROM_NAME)
    pieces = stack.sim_get("sms", "mo_taken")
    assert sorted(p["number"] for p in pieces if p["phone"] == phone) == [1, 2]


def test_a_viber_business_reply_reaches_the_incoming_url(
    stack: ChannelStack, receiver: Receiver, incoming_url: str
) -> None:
    phone = "+380504440023"  # a Viber user: the message goes by Viber Business
    delivered_on(stack, phone, "viber_business")
    answer = stack.http.post(
        f"{stack.vbiz_url}/_sim/users/{phone}/reply", params={"text": "Yes, after six"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["http_status"] == 200  # Cascade took it (stored) at once

    body = check_retried(acknowledged(receiver, incoming_url))

    assert (body["phoneNumber"], body["text"], body["alphaName"]) == (
        phone,
        "Yes, after six",
        FROM_NAME,
    )


def test_an_rcs_user_message_reaches_the_incoming_url(
    stack: ChannelStack, receiver: Receiver, incoming_url: str
) -> None:
    phone = "+380504440034"  # RCS-capable: the message goes by RCS
    delivered_on(stack, phone, "rcs")
    answer = stack.http.post(
        f"{stack.rcs_url}/_sim/users/{phone}/reply", params={"text": "Please call me"}
    )
    assert answer.status_code == 200, answer.text

    body = check_retried(acknowledged(receiver, incoming_url))

    assert (body["phoneNumber"], body["text"], body["alphaName"]) == (
        phone,
        "Please call me",
        FROM_NAME,
    )
