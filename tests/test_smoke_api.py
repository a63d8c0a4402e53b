"""A first end-to-end check of the fixtures: send, read back, on both backends."""

from __future__ import annotations

import httpx

from tests.conftest import TestAccount


async def test_send_then_status(client: httpx.AsyncClient, account: TestAccount) -> None:
    body = [
        {
            "id": "tx-1",
            "fromName": "Shop",
            "toPhone": "+380501234567",
            "messageType": "transaction",
            "text": "Hi",
        }
    ]
    sent = await client.post(
        "/api/CascadeMessage/send_message/async", json=body, headers=account.headers
    )
    assert sent.status_code == 200, sent.text
    [item] = sent.json()
    assert item["trackinId"] == "tx-1"
    status = await client.get(
        f"/api/CascadeMessage/status/{item['messageId']}", headers=account.headers
    )
    assert status.status_code == 200
    assert status.json()["status"] == "scheduled"
    assert status.json()["text"] == "Hi"
