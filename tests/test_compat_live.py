"""Compatibility with the provider's own documents, against a live server on a real port.

The seed's Python `CascadeMessenger` (tests/seed_client.py), its curl examples run by the
real `curl`, and the seed 000 envelope example must get the documented answers, and
repeating any of them must return the same messageIds (SPEC A7): a client that retries
must never cause a second delivery.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from cascade.clock import SystemClock
from cascade.security import hash_secret
from cascade.store.sql import SqlStore
from tests.conftest import (
    TestAccount,
    cascade_cli,
    make_account,
    start_server,
    stop_server,
)
from tests.ports import free_port
from tests.seed_client import CascadeMessenger

pytestmark = pytest.mark.live

SEND = "/api/CascadeMessage/send_message/async"
STATUS = "/api/CascadeMessage/status"
SEED_PHONE = "+380XXXXXXXXX"
PHONE = "+380501234567"  # the seed's "+380XXXXXXXXX" with digits in place of the X's


@dataclass
class Live:
    base_url: str
    db_path: Path
    db_url: str

    def account(self, name: str) -> TestAccount:
        """A fresh account (each test its own: the seed reuses ids such as promo-001)."""

        async def create() -> TestAccount:
            store = SqlStore(self.db_url, SystemClock(), sqlite_synchronous="NORMAL", pool_size=1)
            try:
                return await make_account(store, name)
            finally:
                await store.close()

        return asyncio.run(create())

    def add_bot(self, account_id: str, channel: str, token: str) -> None:
        async def add() -> None:
            store = SqlStore(self.db_url, SystemClock(), sqlite_synchronous="NORMAL", pool_size=1)
            try:
                await store.add_bot(account_id, channel, token, hash_secret(token))
            finally:
                await store.close()

        asyncio.run(add())

    def stored(self, account_id: str) -> int:
        with sqlite3.connect(self.db_path) as conn:
            query = "SELECT count(*) FROM messages WHERE account_id = ?"
            return int(conn.execute(query, (account_id,)).fetchone()[0])

    def status(self, key: str, message_id: str) -> Any:
        response = requests.get(
            f"{self.base_url}{STATUS}/{message_id}",
            headers={"X-Authorization-Key": key},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("compat")
    db_path = tmp / "compat.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASCADE_")}
    env["CASCADE_DATABASE_URL"] = f"sqlite:///{db_path}"
    env["CASCADE_SQLITE_SYNCHRONOUS"] = "NORMAL"
    cascade_cli("migrate", env=env)
    port = free_port()
    env["CASCADE_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    server = start_server(["api"], env, port)
    try:
        yield Live(server.base_url, db_path, env["CASCADE_DATABASE_URL"])
    finally:
        stop_server(server)


def is_uuid(value: object) -> bool:
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value
    except ValueError:
        return False


def ms(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


# --- the seed's Python class ---------------------------------------------------------------


def test_seed_python_single_send(live: Live) -> None:
    account = live.account("python-single")
    messenger = CascadeMessenger(account.key, base_url=live.base_url)

    def send() -> Any:
        return messenger.send_message(
            tracking_id="order-12345",
            from_name="YourStore",
            to_phone=PHONE,
            message_type="transaction",
            text="Your order has been confirmed",
            ttl=86400,
        )

    result = send()
    assert set(result) >= {"messageId", "trackinId"}
    assert is_uuid(result["messageId"])
    assert result["trackinId"] == "order-12345"
    assert send() == {**result, "repeated": True}  # A7: the same message, marked
    assert live.stored(account.id) == 1
    shown = live.status(account.key, result["messageId"])
    assert shown["text"] == "Your order has been confirmed"
    assert abs(ms(shown["expiresAt"]) - ms(shown["createdAt"]) - 86_400_000) < 5_000


def test_expiry_is_creation_time_plus_ttl(live: Live) -> None:
    """One request has one acceptance time: status must show expiresAt = createdAt + ttl
    for a message that is not scheduled (the TTL runs from acceptance)."""
    account = live.account("ttl-consistency")
    body = [
        {
            "id": f"ttl-{n}",
            "fromName": "YourStore",
            "toPhone": PHONE,
            "messageType": "transaction",
            "text": f"Message {n}",
            "ttl": 600,
        }
        for n in range(500)
    ]
    headers = {"X-Authorization-Key": account.key, "Content-Type": "application/json"}
    response = requests.post(live.base_url + SEND, json=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    for accepted in response.json()[::100]:
        shown = live.status(account.key, accepted["messageId"])
        assert ms(shown["expiresAt"]) - ms(shown["createdAt"]) == 600_000, shown


def test_seed_python_scheduled_send(live: Live) -> None:
    account = live.account("python-scheduled")
    messenger = CascadeMessenger(account.key, base_url=live.base_url)
    scheduled_time = datetime.now() + timedelta(hours=2)  # naive local time, as the seed
    if scheduled_time.microsecond == 0:
        scheduled_time = scheduled_time.replace(microsecond=1)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}", scheduled_time.isoformat())

    def send() -> Any:
        return messenger.send_message(
            tracking_id="promo-001",
            from_name="YourBrand",
            to_phone=PHONE,
            message_type="promo",
            text="Sale starts now!",
            scheduled=scheduled_time,
        )

    result = send()
    assert is_uuid(result["messageId"])
    assert result["trackinId"] == "promo-001"
    assert send() == {**result, "repeated": True}  # A7: the same message, marked
    assert live.stored(account.id) == 1
    shown = live.status(account.key, result["messageId"])
    as_utc = scheduled_time.replace(tzinfo=UTC)  # a value without offset is UTC
    assert ms(shown["scheduledAt"]) == int(as_utc.timestamp() * 1000)
    if as_utc > datetime.now(UTC):
        assert shown["status"] == "scheduled"
    assert shown["text"] == "Sale starts now!"


def test_seed_python_bulk_send_of_100(live: Live) -> None:
    account = live.account("python-bulk")
    messenger = CascadeMessenger(account.key, base_url=live.base_url)
    messages = [
        {
            "id": f"bulk-{i}",
            "fromName": "YourBrand",
            "toPhone": f"+38011111111{i}",
            "messageType": "transaction",
            "text": f"Message {i}",
        }
        for i in range(100)
    ]
    results = messenger.send_bulk(messages)
    assert len(results) == 100
    assert [r["trackinId"] for r in results] == [f"bulk-{i}" for i in range(100)]
    assert all(is_uuid(r["messageId"]) for r in results)
    assert len({r["messageId"] for r in results}) == 100
    assert messenger.send_bulk(messages) == [{**r, "repeated": True} for r in results]
    assert live.stored(account.id) == 100
    assert live.status(account.key, results[42]["messageId"])["text"] == "Message 42"


def test_seed_python_client_sees_errors_as_http_errors(live: Live) -> None:
    """raise_for_status() is how the seed's client learns of a bad request."""
    account = live.account("python-errors")
    messenger = CascadeMessenger(account.key, base_url=live.base_url)
    with pytest.raises(requests.HTTPError) as caught:
        messenger.send_message("bad-phone", "YourStore", SEED_PHONE, "transaction", "x")
    assert caught.value.response.status_code == 400
    assert caught.value.response.json()["error"]["code"] == "INVALID_PHONE"
    wrong = CascadeMessenger("not-a-key", base_url=live.base_url)
    with pytest.raises(requests.HTTPError) as caught:
        wrong.send_message("x", "YourStore", PHONE, "transaction", "x")
    assert caught.value.response.status_code == 401
    assert live.stored(account.id) == 0


# --- the seed's curl examples ----------------------------------------------------------------

SEED_CURL = "curl -X POST https://restapi.smsbat.com/api/CascadeMessage/send_message/async"

CURL_BASIC = (
    SEED_CURL
    + """ \\
  -H "Content-Type: application/json" \\
  -H "X-Authorization-Key: your-api-key" \\
  -d '[
    {
      "id": "tx-001",
      "fromName": "YourBank",
      "toPhone": "+380XXXXXXXXX",
      "messageType": "transaction",
      "text": "Payment of $100 was successful. Transaction ID: ABC123"
    }
  ]'"""
)

CURL_SCHEDULED_PROMO = (
    SEED_CURL
    + """ \\
  -H "Content-Type: application/json" \\
  -H "X-Authorization-Key: your-api-key" \\
  -d '[
    {
      "id": "promo-001",
      "fromName": "YourStore",
      "toPhone": "+380XXXXXXXXX",
      "messageType": "promo",
      "text": "Flash Sale starts in 1 hour! Visit: https://example.com",
      "scheduledSent": "2025-01-25T09:00:00Z",
      "ttl": 3600
    }
  ]'"""
)

CURL_BULK = (
    SEED_CURL
    + """ \\
  -H "Content-Type: application/json" \\
  -H "X-Authorization-Key: your-api-key" \\
  -d '[
    {
      "id": "bulk-001",
      "fromName": "YourBrand",
      "toPhone": "+380111111111",
      "messageType": "transaction",
      "text": "Message 1"
    },
    {
      "id": "bulk-002",
      "fromName": "YourBrand",
      "toPhone": "+380222222222",
      "messageType": "transaction",
      "text": "Message 2"
    },
    {
      "id": "bulk-003",
      "fromName": "YourBrand",
      "toPhone": "+380333333333",
      "messageType": "transaction",
      "text": "Message 3"
    }
  ]'"""
)


def run_curl(command: str, live: Live, key: str, cwd: Path | None = None) -> tuple[int, Any]:
    """Run a seed curl line with the real curl: only the base URL, key and X's replaced."""
    command = (
        command.replace("https://restapi.smsbat.com", live.base_url)
        .replace("your-api-key", key)
        .replace("your-smsbat-api-key", key)
        .replace(SEED_PHONE, PHONE)
    )
    result = subprocess.run(
        ["bash", "-c", command + " -sS -w '\\n%{http_code}'"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=cwd,
    )
    assert result.returncode == 0, result.stderr
    body, _, code = result.stdout.rpartition("\n")
    return int(code), json.loads(body)


@pytest.mark.parametrize(
    ("command", "tracking_ids"),
    [
        (CURL_BASIC, ["tx-001"]),
        (CURL_SCHEDULED_PROMO, ["promo-001"]),
        (CURL_BULK, ["bulk-001", "bulk-002", "bulk-003"]),
    ],
    ids=["basic-transaction", "scheduled-promo", "bulk-of-three"],
)
def test_seed_curl_examples(live: Live, command: str, tracking_ids: list[str]) -> None:
    account = live.account("curl")
    code, answer = run_curl(command, live, account.key)
    assert code == 200, answer
    assert [a["trackinId"] for a in answer] == tracking_ids
    assert all(is_uuid(a["messageId"]) for a in answer)
    again_code, again = run_curl(command, live, account.key)
    assert again_code == 200
    assert again == [{**a, "repeated": True} for a in answer]  # A7, marked (extension)
    assert live.stored(account.id) == len(tracking_ids)


def test_seed_curl_scheduled_promo_in_the_past_is_sent_now(live: Live) -> None:
    """The seed's scheduledSent (2025-01-25) is in the past: accepted, due at once."""
    account = live.account("curl-past")
    before = datetime.now(UTC)
    code, [accepted] = run_curl(CURL_SCHEDULED_PROMO, live, account.key)
    assert code == 200
    shown = live.status(account.key, accepted["messageId"])
    # The TTL (3600 s) runs from now, not from the past appointment.
    assert ms(shown["expiresAt"]) >= int(before.timestamp() * 1000) + 3_600_000 - 1000


# --- seed 000: the envelope example ---------------------------------------------------------

SEED_000_REQUEST = """{
"messages": [
{
"recipient": "+380XXXXXXXXX",
"text": "Hello %name=1%, your order #%url=2% is ready!",
"variables": [
{
"id": 1,
"value": "John"
},
{
"id": 2,
"value": "12345"
}
]
}
]
}"""

SEED_000_METHODS = {
    "X-Authorization-Key": SEED_CURL
    + """ \\
-H "X-Authorization-Key: your-smsbat-api-key" \\
-H "Content-Type: application/json" \\
-d @request.json""",
    "X-Viber-Auth-Token": SEED_CURL
    + """ \\
-H "X-Viber-Auth-Token: your-viber-bot-token" \\
-H "Content-Type: application/json" \\
-d @request.json""",
    "X-Tg-Bot-Key": SEED_CURL
    + """ \\
-H "X-Tg-Bot-Key: your-telegram-bot-key" \\
-H "Content-Type: application/json" \\
-d @request.json""",
}


@pytest.fixture
def request_json(tmp_path: Path) -> Path:
    (tmp_path / "request.json").write_text(SEED_000_REQUEST.replace(SEED_PHONE, PHONE))
    return tmp_path


def test_seed_000_envelope_example(live: Live, request_json: Path) -> None:
    account = live.account("envelope")
    command = SEED_000_METHODS["X-Authorization-Key"]
    code, answer = run_curl(command, live, account.key, cwd=request_json)
    assert code == 200, answer
    [accepted] = answer
    assert is_uuid(accepted["messageId"])
    assert accepted["trackinId"]
    shown = live.status(account.key, accepted["messageId"])
    assert shown["text"] == "Hello John, your order #12345 is ready!"
    assert shown["messageType"] == "transaction"


def test_seed_000_envelope_example_repeated(live: Live, request_json: Path) -> None:
    """Repeating the request returns the same messageIds and stores nothing new, although
    the example carries no `id` (a retry after a timeout must not deliver twice)."""
    account = live.account("envelope-repeat")
    command = SEED_000_METHODS["X-Authorization-Key"]
    code, answer = run_curl(command, live, account.key, cwd=request_json)
    assert code == 200, answer
    again_code, again = run_curl(command, live, account.key, cwd=request_json)
    assert again_code == 200
    assert again == [{**a, "repeated": True} for a in answer]  # A7, marked (extension)
    assert live.stored(account.id) == 1


@pytest.mark.parametrize(
    ("header", "channel", "placeholder"),
    [
        ("X-Viber-Auth-Token", "viber_bot", "your-viber-bot-token"),
        ("X-Tg-Bot-Key", "telegram", "your-telegram-bot-key"),
    ],
)
def test_seed_000_bot_token_methods(
    live: Live, request_json: Path, header: str, channel: str, placeholder: str
) -> None:
    account = live.account(f"envelope-{channel}")
    token = f"{uuid.uuid4().hex}:{channel}"
    live.add_bot(account.id, channel, token)
    command = SEED_000_METHODS[header].replace(placeholder, token)
    code, answer = run_curl(command, live, account.key, cwd=request_json)
    assert code == 200, answer
    shown = live.status(account.key, answer[0]["messageId"])
    assert shown["text"] == "Hello John, your order #12345 is ready!"
    # An unregistered token is refused.
    code, answer = run_curl(SEED_000_METHODS[header], live, account.key, cwd=request_json)
    assert code == 401
    assert answer["error"]["code"] == "UNAUTHORIZED"


# --- seed 003: the message-type examples ----------------------------------------------------

SEED_TYPE_EXAMPLES = [
    {
        "id": "order-12345",
        "fromName": "YourStore",
        "toPhone": "+380XXXXXXXXX",
        "messageType": "transaction",
        "text": "Your order #12345 has been confirmed and will arrive tomorrow.",
        "ttl": 86400,
    },
    {
        "id": "promo-summer-sale",
        "fromName": "YourBrand",
        "toPhone": "+380XXXXXXXXX",
        "messageType": "promo",
        "text": "Summer Sale! Up to 50% off. Shop now: https://example.com/sale",
        "ttl": 259200,
    },
    {
        "id": "survey-satisfaction",
        "fromName": "YourBrand",
        "toPhone": "+380XXXXXXXXX",
        "messageType": "viber_survey",
        "text": "How satisfied are you with our service?",
        "surveyOptions": [
            "Very Satisfied",
            "Satisfied",
            "Neutral",
            "Dissatisfied",
            "Very Dissatisfied",
        ],
        "ttl": 604800,
    },
    {
        "id": "verify-user-123",
        "fromName": "YourApp",
        "toPhone": "+380XXXXXXXXX",
        "messageType": "flashcall",
        "ttl": 300,
    },
]


def test_seed_message_type_examples(live: Live) -> None:
    account = live.account("types")
    body = json.loads(json.dumps(SEED_TYPE_EXAMPLES).replace(SEED_PHONE, PHONE))
    headers = {"X-Authorization-Key": account.key, "Content-Type": "application/json"}
    url = live.base_url + SEND
    response = requests.post(url, json=body, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert [a["trackinId"] for a in answer] == [m["id"] for m in SEED_TYPE_EXAMPLES]
    # "Summer Sale! Up to 50% off": a lone % that is no placeholder is plain text.
    promo = live.status(account.key, answer[1]["messageId"])
    assert promo["text"] == SEED_TYPE_EXAMPLES[1]["text"]
    again = requests.post(url, json=body, headers=headers, timeout=10)
    assert again.json() == [{**a, "repeated": True} for a in answer]
    assert live.stored(account.id) == 4
