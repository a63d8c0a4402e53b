"""The channel test runner's own checks can fail: a row it must refuse is refused.

Each bad row runs a real channel (Telegram's, Twilio's flash calls) on the mocked
transport, with one thing wrong, and `pytest.raises` expects the runner to say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
import msgspec
import pytest

from cascade.channels.base import Inbound
from cascade.channels.flashcall import FlashCallChannel, pattern
from cascade.channels.telegram import TelegramChannel, handle_webhook
from cascade.domain.events import ContactState
from cascade.domain.sending import Delivered, Outcome, Retry, Sender, Sent
from tests.channel_cases import (
    UUID,
    Call,
    HookCase,
    HttpBench,
    HttpCase,
    Matching,
    SendCase,
    decoded,
    run_hook,
    run_send,
)
from tests.outbound import outbound_to

TOKEN = "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
BASE = "https://api.telegram.test"
PATH = f"/bot{TOKEN}/sendMessage"
SENDER = Sender(id="bot-1", token=TOKEN, webhook_secret="wh-Secret_0123456789")
OUT = outbound_to("+380501234561", SENDER, address="1000380501234561")
BODY = {"chat_id": OUT.address, "text": OUT.text}

TELEGRAM = HttpBench(
    origin=BASE,
    make=lambda client, **config: TelegramChannel(base_url=BASE, client=client, **config),
    secrets=(TOKEN,),
    headers={"content-type": "application/json"},
)


def accepted(message_id: int = 42) -> httpx.Response:
    return httpx.Response(200, json={"ok": True, "result": {"message_id": message_id}})


def row(*calls: Call, outcome: Any = None) -> HttpCase:
    return SendCase("row", OUT, calls, outcome or Delivered("42"))


async def test_a_good_row_passes_and_returns_the_outcome() -> None:
    case = row(Call(accepted(), "POST", PATH, body=BODY, fields={"chat_id": OUT.address}))
    assert await run_send(TELEGRAM, case) == Delivered("42")


async def test_an_answer_left_unused_fails() -> None:
    case = row(Call(accepted(), "POST", PATH), Call(accepted(43), "POST", PATH))
    with pytest.raises(AssertionError, match="never made"):
        await run_send(TELEGRAM, case)


async def test_a_request_no_answer_was_scripted_for_fails() -> None:
    with pytest.raises(AssertionError, match="unexpected request"):
        await run_send(TELEGRAM, row())


@pytest.mark.parametrize(
    ("call", "complaint"),
    [
        (Call(accepted(), "POST", PATH, body={**BODY, "text": "other"}), "the body is"),
        (Call(accepted(), "POST", PATH, fields={"chat_id": "7"}), "the body's chat_id"),
        (Call(accepted(), "POST", PATH, query={"x": "1"}), "the query is"),
        (Call(accepted(), "POST", PATH, headers={"authorization": "x"}), "authorization is"),
        (Call(accepted(), "POST", PATH, origin="https://elsewhere.test"), "request 1: POST"),
    ],
    ids=["body", "key-field", "query", "header", "origin"],
)
async def test_a_request_that_differs_fails(call: Call, complaint: str) -> None:
    with pytest.raises(AssertionError, match=complaint):
        await run_send(TELEGRAM, row(call))


async def test_a_request_to_another_path_or_method_fails() -> None:
    # the mocked transport refuses it as it arrives
    for call in (Call(accepted(), "POST", "/bot/getMe"), Call(accepted(), "GET", PATH)):
        with pytest.raises(AssertionError):
            await run_send(TELEGRAM, row(call))


async def test_another_outcome_fails() -> None:
    case = row(Call(accepted(), "POST", PATH, body=BODY), outcome=Retry("HTTP_500"))
    with pytest.raises(AssertionError, match="the outcome is"):
        await run_send(TELEGRAM, case)


async def test_an_outcome_made_from_the_requests_is_checked_too() -> None:
    case = row(Call(accepted(), "POST", PATH), outcome=lambda seen: Delivered(str(len(seen))))
    with pytest.raises(AssertionError, match="the outcome is"):
        await run_send(TELEGRAM, case)


# A flash call's AccountSid is in the URL of every request, and httpx logs that URL: were
# the AccountSid a secret, every case would show it. The runner must notice.
ACCOUNT = "AC3f2a0c5d9e8b7a6f5e4d3c2b1a0f9e8d"
CALLS = f"/2010-04-01/Accounts/{ACCOUNT}/Calls.json"
CALLER = Matching(r"\+44207946\d{4}")


def flashcall(secrets: tuple[str, ...]) -> HttpBench[FlashCallChannel]:
    def make(client: httpx.AsyncClient) -> FlashCallChannel:
        return FlashCallChannel(
            account_sid=ACCOUNT,
            auth_token="9c1e4f7a2b5d8e0f3a6c9b2e5d8f1a4c",
            caller_prefix="+44207946",
            status_callback_url_base="https://cascade.test",
            base_url="https://twilio.test",
            client=client,
        )

    return HttpBench("https://twilio.test", make, secrets)


def placed(seen: Sequence[httpx.Request]) -> Outcome:
    caller = decoded(seen[0])[1]["From"]
    return Sent("CA1", detail=pattern(caller, 4), secret=caller[-4:])


CALL_ROW: HttpCase = SendCase(
    "call",
    outbound_to("+380501234569", Sender("flashcall", "")),
    [Call(httpx.Response(201, json={"sid": "CA1"}), "POST", CALLS, fields={"From": CALLER})],
    placed,
)


async def test_a_secret_in_the_logs_fails() -> None:
    await run_send(flashcall(()), CALL_ROW)
    with pytest.raises(AssertionError, match="a secret was logged"):
        await run_send(flashcall((ACCOUNT,)), CALL_ROW)


async def test_a_secret_of_the_row_in_the_logs_fails() -> None:
    case = SendCase(CALL_ROW.id, CALL_ROW.out, CALL_ROW.calls, CALL_ROW.outcome, secrets=(ACCOUNT,))
    with pytest.raises(AssertionError, match="a secret was logged"):
        await run_send(flashcall(()), case)


def test_matching_is_a_rule_on_strings() -> None:
    assert Matching(r"\d{4}") == "0042"
    assert Matching(r"\d{4}") != "00420"
    assert Matching(r"\d{4}") != 42
    assert {"id": UUID} == {"id": "0b7f3a52-3c1e-4b5e-9a55-2f0d3c1b9e11"}
    assert {"id": UUID} != {"id": "0b7f3a52"}


# --- webhook rows ------------------------------------------------------------------------------

KICKED = msgspec.json.encode(
    {
        "update_id": 901,
        "my_chat_member": {
            "chat": {"id": 7, "type": "private"},
            "from": {"id": 7, "is_bot": False, "first_name": "Ann"},
            "date": 1767225602,
            "old_chat_member": {"status": "member", "user": {"id": 1, "is_bot": True}},
            "new_chat_member": {"status": "kicked", "user": {"id": 1, "is_bot": True}},
        },
    }
)
SIGNED = Inbound(SENDER, {"x-telegram-bot-api-secret-token": "wh-Secret_0123456789"}, KICKED)
GONE = (ContactState("telegram", "bot-1", "7", reachable=False),)


async def test_a_good_webhook_row_passes() -> None:
    await run_hook(handle_webhook, HookCase("kicked", SIGNED, 200, GONE, b""))


@pytest.mark.parametrize(
    ("case", "complaint"),
    [
        (HookCase("status", SIGNED, 401, GONE), "answered"),
        (HookCase("events", SIGNED, 200, ()), "answered"),
        (HookCase("body", SIGNED, 200, GONE, b"{}"), "the reply body"),
        (HookCase("json", SIGNED, 200, GONE, {"ok": True}), "the reply is"),
    ],
    ids=["status", "events", "body", "json-body"],
)
async def test_a_webhook_row_that_differs_fails(case: HookCase, complaint: str) -> None:
    with pytest.raises(AssertionError, match=complaint):
        await run_hook(handle_webhook, case)


async def test_a_webhook_that_logs_a_secret_fails() -> None:
    # a contact with an unusable number is logged with the bot's id: call that a secret
    contact = {"phone_number": "12", "user_id": 7}
    update = {
        "update_id": 900,
        "message": {
            "message_id": 7,
            "from": {"id": 7, "is_bot": False, "first_name": "Ann"},
            "chat": {"id": 7, "type": "private"},
            "date": 1,
            "contact": contact,
        },
    }
    inbound = Inbound(SENDER, SIGNED.headers, msgspec.json.encode(update))
    await run_hook(handle_webhook, HookCase("contact", inbound))
    with pytest.raises(AssertionError, match="a secret was logged"):
        await run_hook(handle_webhook, HookCase("contact", inbound, secrets=("bot-1",)))
