"""`POST /api/CascadeMessage/cancel` (SPEC A9, a Cascade extension) over HTTP, in process,
on SQLite and PostgreSQL: the answer per id, and every bad input answered 400 with the one
error body, changing nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cascade.clock import ManualClock
from cascade.domain.surfaces import iso
from cascade.store.sql import SqlStore
from tests.conftest import TestAccount, make_account

SEND = "/api/CascadeMessage/send_message/async"
CANCEL = "/api/CascadeMessage/cancel"
STATUS = "/api/CascadeMessage/status"


async def send(client: httpx.AsyncClient, account: TestAccount, *ids: str) -> list[str]:
    """Messages accepted (no engine runs here: they stay `scheduled` until cancelled)."""
    body = [
        {
            "id": i,
            "fromName": "Shop",
            "toPhone": "+380501234567",
            "messageType": "transaction",
            "text": "Hello",
        }
        for i in ids
    ]
    answer = await client.post(SEND, json=body, headers=account.headers)
    assert answer.status_code == 200, answer.text
    return [m["messageId"] for m in answer.json()]


async def statuses(client: httpx.AsyncClient, account: TestAccount, *ids: str) -> list[str]:
    found = []
    for message_id in ids:
        answer = await client.get(f"{STATUS}/{message_id}", headers=account.headers)
        assert answer.status_code == 200
        found.append(answer.json()["status"])
    return found


async def test_cancel_by_message_id_and_by_tracking_id(
    client: httpx.AsyncClient, account: TestAccount
) -> None:
    first, second = await send(client, account, "order-1", "order-2")
    answer = await client.post(CANCEL, json={"messageIds": [first]}, headers=account.headers)
    assert answer.status_code == 200
    assert answer.json() == [{"id": first, "status": "cancelled", "messageId": first}]
    answer = await client.post(
        CANCEL, json={"trackingIds": ["order-2", "order-1"]}, headers=account.headers
    )
    assert answer.json() == [
        {"id": "order-2", "status": "cancelled", "messageId": second},
        {"id": "order-1", "status": "cancelled", "messageId": first},
    ]
    assert await statuses(client, account, first, second) == ["cancelled", "cancelled"]


async def test_a_foreign_id_is_not_found_and_nothing_changes(
    client: httpx.AsyncClient, account: TestAccount, store: SqlStore
) -> None:
    [mine] = await send(client, account, "mine")
    other = await make_account(store, "other")
    answer = await client.post(CANCEL, json={"messageIds": [mine]}, headers=other.headers)
    assert answer.status_code == 200
    assert answer.json() == [{"id": mine, "status": "not_found"}]
    assert await statuses(client, account, mine) == ["scheduled"]


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"messageIds": []}, "EMPTY_BATCH", "messageIds"),
        ({"trackingIds": []}, "EMPTY_BATCH", "trackingIds"),
        ({"messageIds": [f"m-{i}" for i in range(5001)]}, "BATCH_TOO_LARGE", "messageIds"),
        ({"messageIds": ["a"], "trackingIds": ["b"]}, "INVALID_REQUEST", None),
        ({}, "INVALID_REQUEST", None),
        ({"messageIds": [""]}, "INVALID_ID", "messageIds[0]"),
        ({"messageIds": "abc"}, "INVALID_TYPE", "messageIds"),
        ({"messageIds": [1]}, "INVALID_TYPE", "messageIds[0]"),
        ({"messageIds": ["a"], "trackingIds": None}, "INVALID_TYPE", "trackingIds"),
        ([], "INVALID_BODY", None),
    ],
)
async def test_bad_input_is_a_400_with_the_error_body_and_changes_nothing(
    client: httpx.AsyncClient, account: TestAccount, body: Any, code: str, field: str | None
) -> None:
    [mine] = await send(client, account, "kept")
    answer = await client.post(CANCEL, json=body, headers=account.headers)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["code"], error.get("field")) == (code, field)
    assert error["message"]
    assert await statuses(client, account, mine) == ["scheduled"]


async def test_malformed_json_wrong_content_type_and_no_key(
    client: httpx.AsyncClient, account: TestAccount
) -> None:
    answer = await client.post(CANCEL, content=b"{", headers=account.headers)
    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "INVALID_JSON")
    headers = {**account.headers, "Content-Type": "text/plain"}
    answer = await client.post(CANCEL, content=b"{}", headers=headers)
    assert answer.status_code == 415
    answer = await client.post(CANCEL, json={"messageIds": ["x"]})
    assert (answer.status_code, answer.json()["error"]["code"]) == (401, "UNAUTHORIZED")


async def test_a_message_a_worker_holds_is_cancelling_and_its_status_says_so(
    client: httpx.AsyncClient, account: TestAccount, store: SqlStore, clock: ManualClock
) -> None:
    [held] = await send(client, account, "held")
    [claimed] = await store.claim("a-worker", clock.now_ms(), 30_000, 10)
    assert claimed.message_id == held
    answer = await client.post(CANCEL, json={"trackingIds": ["held"]}, headers=account.headers)
    assert answer.json() == [{"id": "held", "status": "cancelling", "messageId": held}]
    status = (await client.get(f"{STATUS}/{held}", headers=account.headers)).json()
    assert status["status"] == "scheduled"  # the worker's step decides what follows
    assert status["cancelRequestedAt"] == iso(clock.now_ms())
