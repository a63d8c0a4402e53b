"""Every store numbers message lists and owes status webhooks in the shape of the API a
message came through (SPEC C for the Cascade API, D7 for the core API)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from cascade.clock import ManualClock
from cascade.domain.message import Draft, MessageType, Route, Status
from cascade.domain.records import MessageChange, Transition
from cascade.domain.surfaces import Surface
from cascade.store import NewMessage
from cascade.store.memory import MemoryStore
from cascade.store.sql import SqlStore
from tests.conftest import make_account


@pytest.fixture
def store(any_store: SqlStore | MemoryStore) -> SqlStore | MemoryStore:
    return any_store


def draft(clock: ManualClock, tracking_id: str | None, n: int = 0) -> Draft:
    now = clock.now_ms()
    return Draft(
        tracking_id=tracking_id,
        fingerprint=bytes([n]) * 16,
        route=Route.STANDARD,
        message_type=MessageType.TRANSACTION,
        from_name="Shop",
        phone="+380501234567",
        text=f"Hello {n}",
        survey_options=(),
        fallback=None,
        ttl=60,
        created_at_ms=now,
        scheduled_at_ms=None,
        due_at_ms=now,
        expires_at_ms=now + 60_000,
        short_links=(),
    )


async def events(store: SqlStore | MemoryStore, clock: ManualClock) -> list[dict[str, Any]]:
    claimed = await store.claim_callback_events(clock.now_ms(), 30_000, 100)
    return [msgspec.json.decode(payload) for _, _, _, payload, _ in claimed]


async def change(
    store: SqlStore | MemoryStore, message_id: str, status: Status, reason: str | None = None
) -> None:
    await store.apply([Transition(MessageChange(message_id, status.value, 0, "sms", reason, None))])


async def test_lists_are_numbered_and_kept(
    store: SqlStore | MemoryStore, clock: ManualClock
) -> None:
    account = await make_account(store)
    first, ids = await store.accept_list(
        account.id,
        [NewMessage(f"m-{n}", draft(clock, None, n), surface=Surface.BAT) for n in range(3)],
    )
    second, _ = await store.accept_list(
        account.id, [NewMessage("m-9", draft(clock, "c", 9), surface=Surface.BAT)]
    )
    assert second > first
    assert ids == ["m-0", "m-1", "m-2"]
    page = await store.message_list(account.id, first, 1, 5)
    assert page is not None
    assert page.total == 3
    assert len(page.messages) == 2
    assert {v.list_id for v in page.messages} == {first}
    assert await store.message_list("someone-else", first, 0, 5) is None
    view = await store.message_view(account.id, message_id="m-9")
    assert view is not None
    assert (view.list_id, view.surface) == (second, "bat")


async def test_core_api_webhooks_in_its_shape(
    store: SqlStore | MemoryStore, clock: ManualClock
) -> None:
    account = await make_account(store)
    await store.add_callback(account.id, "https://hooks.example/a", "s" * 64)
    await store.accept_list(
        account.id,
        [
            NewMessage("bat-1", draft(clock, "order-1", 1), surface=Surface.BAT),
            NewMessage("bat-2", draft(clock, None, 2), surface=Surface.BAT),
        ],
    )
    await store.accept(account.id, [NewMessage("cas-1", draft(clock, "t-1", 3))])
    await change(store, "bat-1", Status.DELIVERED)
    await change(store, "bat-1", Status.READ)  # the same deliverystatus: no event
    await change(store, "bat-2", Status.UNDELIVERABLE, "INVALID_NUMBER")
    await change(store, "cas-1", Status.DELIVERED)
    owed = await events(store, clock)
    assert sorted(e["messageId"] for e in owed) == ["bat-1", "bat-2", "cas-1"]  # one each
    found = {e["messageId"]: e for e in owed}
    assert found["bat-1"] == {
        "messageId": "bat-1",
        "customerMessageId": "order-1",
        "deliverystatus": "delivered",
        "timestamp": "2026-01-01T00:00:00.000Z",
        "cost": None,
    }
    assert found["bat-2"]["deliverystatus"] == "permanenterror"
    assert found["bat-2"]["customerMessageId"] is None
    assert found["cas-1"]["trackinId"] == "t-1"
    assert found["cas-1"]["status"] == "delivered"
