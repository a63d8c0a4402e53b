"""The core SMSBAT API (SPEC D1, D3-D8, in process, both databases): a message list's
every type and spelling, partial acceptance, the D6 error bodies, idempotency, status,
the message-list page, the shared rate-limit buckets, and the status webhooks' shape."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from cascade.clock import ManualClock
from cascade.domain.templates import OTP_TEMPLATES
from cascade.store import schema as t
from cascade.store.sql import SqlStore
from tests.conftest import TestAccount, make_account

LIST = "/bat/messagelist"
MESSAGE = "/bat/message"
OTP = next(iter(OTP_TEMPLATES.values()))


def sms(to: str = "+380501234567", **changes: object) -> dict[str, Any]:
    message: dict[str, Any] = {"from": "Shop", "to": to, "type": "sms", "text": "Hello"}
    message.update(changes)
    return message


async def post(
    client: httpx.AsyncClient, account: TestAccount, messages: list[Any], **headers: str
) -> httpx.Response:
    return await client.post(
        LIST, json={"messages": messages}, headers={**account.headers, **headers}
    )


async def accepted(
    client: httpx.AsyncClient, account: TestAccount, messages: list[Any]
) -> dict[str, Any]:
    response = await post(client, account, messages)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert isinstance(body["messagelistId"], int)
    return body


async def stored(store: SqlStore) -> int:
    async with store._reader.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(t.messages))).scalar_one())


def assert_d6(response: httpx.Response, status: int, code: int | None, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["message"], str) and body["message"]
    assert body.get("code") == code
    if field is not None:
        assert body["field"] == field


async def test_one_sms(client: httpx.AsyncClient, store: SqlStore, account: TestAccount) -> None:
    body = await accepted(client, account, [sms(customerMessageId="c-1")])
    [item] = body["messages"]
    assert item["status"] == "accepted"
    assert item["parts"] == 1
    assert item["customerMessageId"] == "c-1"
    assert item["to"] == "+380501234567"
    assert await stored(store) == 1
