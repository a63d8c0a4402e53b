"""Every store (memory, SQLite, PostgreSQL) reads a message's history for its timeline the
same way: steps skipped and tried, reports kept, clicks, status-webhook events, a
flash-call code's check; by id or tracking id, within an account or across them."""

from __future__ import annotations

import uuid

import msgspec
import msgspec.structs
import pytest

from cascade.clock import ManualClock
from cascade.domain.events import DeliveryReport
from cascade.domain.lifecycle import AttemptStatus
from cascade.domain.message import MessageType, Route, Status
from cascade.domain.records import AttemptChange, MessageChange, NewAttempt, Transition
from cascade.domain.timeline import EntryKind, HistoryClick, timeline
from cascade.domain.variables import ShortLink
from cascade.store import NewMessage
from cascade.store.memory import MemoryStore
from cascade.store.sql import SqlStore
from tests.conftest import make_account
from tests.test_store_contract import draft

Store = SqlStore | MemoryStore
PHONE = "+380501234567"


@pytest.fixture
def store(any_store: Store) -> Store:
    return any_store


async def send(
    store: Store,
    message_id: str,
    step: int,
    channel: str,
    at_ms: int,
    change: AttemptChange | None = None,
    *,
    due_at_ms: int | None = None,
    skipped: str | None = None,
) -> str:
    """The engine's record of a step's send (its plan, with steps skipped before it, and
    its intent), then `change`'s result; returns the attempt's id."""
    attempt_id = str(uuid.uuid4())
    plan = Transition(
        MessageChange(
            message_id, Status.PROCESSING, step, channel, None, due_at_ms, skipped=skipped
        ),
    )
    intent = NewAttempt(
        attempt_id,
        message_id,
        step,
        channel,
        AttemptStatus.SENDING,
        None,
        "bot-1",
        PHONE,
        at_ms,
        None,
    )
    await store.record_intents([intent], [], plans=[plan])
    if change is not None:
        result = MessageChange(message_id, Status.PROCESSING, step, channel, None, due_at_ms)
        await store.apply([Transition(result, (msgspec.structs.replace(change, id=attempt_id),))])
    return attempt_id


async def test_a_message_history_has_every_kind_of_record(store: Store, clock: ManualClock) -> None:
    account = await make_account(store)
    await store.add_callback(account.id, "https://hooks.example/status", "s3cret")
    link = ShortLink("AbCdEfG", "https://shop.example/sale")
    t0 = clock.now_ms()
    d = draft("order-1", short_links=(link,), now_ms=t0)
    [message_id] = await store.accept(account.id, [NewMessage(str(uuid.uuid4()), d)])
    # telegram passed over at once; viber_bot sent, then reported unreachable
    skipped = msgspec.json.encode([[0, "telegram", "skipped", "NO_CHAT", None, t0 + 5]]).decode()
    clock.advance(0.010)
    sent = AttemptChange("", AttemptStatus.SENT, None, "vb-1", window_ends_at_ms=t0 + 60_000)
    viber = await send(
        store, message_id, 1, "viber_bot", t0 + 10, sent, due_at_ms=t0 + 60_000, skipped=skipped
    )
    clock.advance(1)
    failed = DeliveryReport("viber_bot", "vb-1", "failed", clock.now_ms(), "NOT_SUBSCRIBED")
    assert await store.record_reports([failed]) == [True]
    # SMS sent in two parts; a worker claims the message, so a receipt is kept meanwhile
    clock.advance(1)
    sms_sent = AttemptChange(
        "", AttemptStatus.SENT, None, "sm-1", parts=2, part_ids=("sm-1", "sm-2")
    )
    sms = await send(store, message_id, 4, "sms", clock.now_ms(), sms_sent, due_at_ms=t0)
    assert [c.message_id for c in await store.claim("w-1", clock.now_ms(), 30_000, 10)] == [
        message_id
    ]
    receipt = DeliveryReport("sms", "sm-2", "delivered", clock.now_ms() + 3)
    await store.record_reports([receipt])
    assert await store.follow_link(link.code, clock.now_ms() + 7, "Mozilla/5.0") is not None
    # one webhook event delivered, the others still owed
    events = await store.claim_callback_events(clock.now_ms(), 30_000, 100)
    assert len(events) >= 1
    await store.finish_callback_events([events[0][0]], [(e[0], t0 + 99_000) for e in events[1:]])

    [history] = await store.message_history(account.id, message_id=message_id)
    assert (history.message_id, history.account_id, history.tracking_id) == (
        message_id,
        account.id,
        "order-1",
    )
    assert (history.status, history.phone, history.route) == ("processing", PHONE, "standard")
    assert [(s.step, s.channel, s.reason, s.at_ms) for s in history.skipped] == [
        (0, "telegram", "NO_CHAT", t0 + 5)
    ]
    got = {a.channel: a for a in history.attempts}
    assert [a.channel for a in history.attempts] == ["viber_bot", "sms"]
    assert (got["viber_bot"].status, got["viber_bot"].reason) == ("unreachable", "NOT_SUBSCRIBED")
    assert got["viber_bot"].provider_message_id == "vb-1"
    assert got["viber_bot"].window_ends_at_ms == t0 + 60_000
    assert got["viber_bot"].sender_id == "bot-1"
    assert (got["sms"].status, got["sms"].parts, got["sms"].started_at_ms) == ("sent", 2, t0 + 2010)
    assert viber != sms
    [kept] = history.reports
    assert (kept.channel, kept.provider_message_id, kept.state) == ("sms", "sm-2", "delivered")
    assert history.clicks == (HistoryClick(clock.now_ms() + 7, "Mozilla/5.0"),)
    statuses = [msgspec.json.decode(w.payload)["status"] for w in history.webhooks]
    assert statuses[0] == "processing"
    assert [w.seq for w in history.webhooks] == sorted(w.seq for w in history.webhooks)
    assert history.webhooks[0].delivered_at_ms == clock.now_ms()
    assert all(w.delivered_at_ms is None and w.tries == 1 for w in history.webhooks[1:])
    assert {w.url for w in history.webhooks} == {"https://hooks.example/status"}
    # and the timeline reads it in order
    kinds = [e.kind for e in timeline(history).entries]
    assert kinds[:2] == [EntryKind.ACCEPTED, EntryKind.SKIPPED]
    assert EntryKind.REPORT_KEPT in kinds
    assert EntryKind.CLICK in kinds


async def test_final_status_and_a_verified_code(store: Store, clock: ManualClock) -> None:
    account = await make_account(store)
    d = draft("call-1", message_type=MessageType.FLASHCALL, text=None, route=Route.STANDARD)
    [message_id] = await store.accept(account.id, [NewMessage(str(uuid.uuid4()), d)])
    code_hash = "c0de" * 16
    attempt_id = await send(store, message_id, 0, "flashcall", clock.now_ms())
    clock.advance(2)
    done = MessageChange(message_id, Status.DELIVERED, 0, "flashcall", None, None)
    ended = AttemptChange(
        attempt_id, AttemptStatus.DELIVERED, None, "fc-1", clock.now_ms(), detail="***4567"
    )
    await store.apply(
        [Transition(done, (ended,), verification=(code_hash, 3, clock.now_ms() + 300_000))]
    )
    clock.advance(5)
    assert (await store.verify_code(account.id, message_id, code_hash)).name == "OK"
    [history] = await store.message_history(account.id, tracking_id="call-1")
    assert history.status == "delivered"
    assert history.verified_at_ms == clock.now_ms()
    [attempt] = history.attempts
    assert (attempt.status, attempt.detail, attempt.finished_at_ms) == (
        "delivered",
        "***4567",
        clock.now_ms() - 5000,
    )
    assert history.webhooks == ()  # no callbacks registered
    entries = timeline(history).entries
    assert [e.kind for e in entries] == [
        EntryKind.ACCEPTED,
        EntryKind.SENT,
        EntryKind.OUTCOME,
        EntryKind.FINAL,
        EntryKind.VERIFIED,
    ]


async def test_by_tracking_id_within_an_account_or_across_them(
    store: Store, clock: ManualClock
) -> None:
    first = await make_account(store, "first")
    second = await make_account(store, "second")
    [one] = await store.accept(first.id, [NewMessage(str(uuid.uuid4()), draft("same"))])
    clock.advance(1)
    later = draft("same", now_ms=clock.now_ms())
    [two] = await store.accept(second.id, [NewMessage(str(uuid.uuid4()), later)])
    assert [h.message_id for h in await store.message_history(first.id, tracking_id="same")] == [
        one
    ]
    assert [h.message_id for h in await store.message_history(None, tracking_id="same")] == [
        one,
        two,
    ]
    # another account's message is not found through this one
    assert await store.message_history(first.id, message_id=two) == []
    [found] = await store.message_history(None, message_id=two)
    assert found.account_id == second.id
    assert await store.message_history(None, message_id=str(uuid.uuid4())) == []
    assert await store.message_history(None, tracking_id="nobody") == []
    with pytest.raises(ValueError, match="message_id or tracking_id"):
        await store.message_history(first.id)
