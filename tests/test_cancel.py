"""Cancelling messages (SPEC A9) through the one command (`cascade.cancel.cancel_messages`)
over every store (in memory, SQLite, PostgreSQL), with the engine and scripted channels on
a ManualClock: a message with no step in flight ends `cancelled` at once, one whose step is
in flight ends `cancelled` once that step's outcome is known and nothing further is sent,
a final one is left alone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import msgspec
import pytest

from cascade.cancel import cancel_messages
from cascade.clock import ManualClock
from cascade.domain.cancel import CancelOutcome
from cascade.domain.errors import RequestRejected
from cascade.domain.sending import Delivered, Failed, Outbound, Outcome, Retry, Sent
from cascade.domain.surfaces import Surface
from cascade.engine.worker import Worker, WorkerConfig
from cascade.store import schema
from cascade.store.memory import MemoryStore
from cascade.store.sql import SqlStore
from tests.conftest import TestAccount, make_account
from tests.test_engine import PHONE, Scene, ScriptedChannel, drain, plain
from tests.test_store_contract import draft, new, rows

Store = SqlStore | MemoryStore


@pytest.fixture
def store(any_store: Store) -> Store:
    """Every backend: in memory, SQLite, PostgreSQL (the engine suite's scene over it)."""
    return any_store


@pytest.fixture
def scene(store: Store, clock: ManualClock, account: TestAccount) -> Scene:
    return Scene(store, clock, account)


async def cancel(scene: Scene, *message_ids: str) -> list[str]:
    outcomes = await cancel_messages(scene.store, scene.account.id, message_ids=message_ids)
    assert [o.id for o in outcomes] == list(dict.fromkeys(message_ids))
    return [o.status for o in outcomes]


async def message_row(store: Store, message_id: str) -> tuple[object, ...]:
    [row] = await rows(store, schema.messages, schema.messages.c.id == message_id)
    return tuple(row)


def sms_waiting_for_its_receipt(sent_id: str = "sms-1") -> ScriptedChannel:
    """SMS that takes the message and confirms within 60 s, by a receipt."""
    return plain("sms", lambda o: Sent(sent_id))


async def test_a_scheduled_message_is_cancelled_at_once_and_never_sent(
    scene: Scene, store: Store, clock: ManualClock
) -> None:
    sms = plain("sms", lambda o: Delivered("never"))
    at = datetime.fromtimestamp(clock.now_ms() / 1000 + 3600, tz=UTC).isoformat()
    message_id = await scene.accept(PHONE, scheduled_sent=at)
    assert await cancel(scene, message_id) == ["cancelled"]
    v = await scene.view(message_id)
    assert (v.status, v.reason) == ("cancelled", "CANCELLED")
    assert await store.pending_tasks() == 0
    clock.advance(3600)
    await scene.run(sms)
    assert sms.sent == []
    assert (await scene.view(message_id)).status == "cancelled"


async def test_a_step_waiting_for_its_report_ends_cancelled_when_its_window_ends(
    scene: Scene, store: Store, clock: ManualClock
) -> None:
    viber = await scene.linked_channel("viber_bot", lambda o: Sent("vb-1"))
    sms = plain("sms", lambda o: Delivered("sms-next"))
    message_id = await scene.accept(PHONE)
    worker = scene.worker(viber, sms)
    await drain(worker)
    assert (await scene.view(message_id)).status == "processing"
    assert await cancel(scene, message_id) == ["cancelling"]
    v = await scene.view(message_id)
    assert (v.status, v.cancel_requested_at_ms) == ("processing", clock.now_ms())
    clock.advance(61)  # viber_bot's window ends: its outcome is known (no confirmation)
    await drain(worker)
    v = await scene.view(message_id)
    assert (v.status, v.reason) == ("cancelled", "CANCELLED")
    assert sms.sent == []  # no further step
    assert [(a.channel, a.status) for a in v.attempts][-1] == ("viber_bot", "timeout")
    assert await store.pending_tasks() == 0


async def test_a_step_in_flight_that_fails_ends_cancelled_and_nothing_more_is_sent(
    scene: Scene, store: Store, clock: ManualClock
) -> None:
    viber = await scene.linked_channel("viber_bot", lambda o: Sent("vb-2"))
    sms = plain("sms", lambda o: Delivered("sms-next"))
    message_id = await scene.accept(PHONE)
    worker = scene.worker(viber, sms)
    await drain(worker)
    assert await cancel(scene, message_id) == ["cancelling"]
    await store.record_report("viber_bot", "vb-2", "failed", clock.now_ms(), "REJECTED")
    await drain(worker)
    v = await scene.view(message_id)
    assert v.status == "cancelled"
    assert sms.sent == []


async def test_a_step_in_flight_that_delivers_leaves_the_message_delivered(
    scene: Scene, store: Store, clock: ManualClock
) -> None:
    # the person has it: calling it cancelled would be false
    viber = await scene.linked_channel("viber_bot", lambda o: Sent("vb-3"))
    message_id = await scene.accept(PHONE)
    await drain(scene.worker(viber))
    assert await cancel(scene, message_id) == ["cancelling"]
    await store.record_report("viber_bot", "vb-3", "delivered", clock.now_ms())
    assert (await scene.view(message_id)).status == "delivered"
    assert await cancel(scene, message_id) == ["delivered"]


class HeldChannel(ScriptedChannel):
    """SMS whose send waits until the test lets it answer: the step is in flight."""

    def __init__(self, answer: Outcome) -> None:
        super().__init__("sms", sms_waiting_for_its_receipt().limits)
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.answer = answer

    async def send(self, out: Outbound) -> Outcome:
        self.sent.append(out)
        self.entered.set()
        await self.release.wait()
        return self.answer


async def cancelled_mid_send(scene: Scene, answer: Outcome) -> tuple[str, Worker, HeldChannel]:
    """A message held mid-send on SMS (the route's steps before it skipped: no bots),
    cancelled there — answered `cancelling` — then let go with `answer`: its message id,
    the worker, and the channel."""
    held = HeldChannel(answer)
    worker = Worker(
        scene.store, scene.clock, {"sms": held}, {}, WorkerConfig(enforce_rates=False), "held"
    )
    message_id = await scene.accept(PHONE)
    sending = asyncio.create_task(worker.run_once())
    await held.entered.wait()
    assert await cancel(scene, message_id) == ["cancelling"]
    held.release.set()
    await sending
    return message_id, worker, held


async def test_a_send_under_way_is_let_finish_then_the_message_ends_cancelled(
    scene: Scene,
) -> None:
    message_id, worker, held = await cancelled_mid_send(scene, Failed("REJECTED"))
    v = await scene.view(message_id)
    assert v.status == "processing"  # the failure is committed; the next move is pending
    await drain(worker)
    v = await scene.view(message_id)
    assert (v.status, v.reason) == ("cancelled", "CANCELLED")
    assert len(held.sent) == 1  # no further step


async def test_a_send_under_way_that_is_taken_waits_for_its_receipt_then_ends_cancelled(
    scene: Scene, store: Store, clock: ManualClock
) -> None:
    message_id, worker, held = await cancelled_mid_send(scene, Sent("sms-held"))
    assert (await scene.view(message_id)).status == "processing"
    await store.record_report("sms", "sms-held", "failed", clock.now_ms(), "UNDELIV")
    await drain(worker)
    assert (await scene.view(message_id)).status == "cancelled"
    assert len(held.sent) == 1


async def test_a_step_waiting_to_be_retried_is_cancelled_at_once(
    scene: Scene, store: Store, clock: ManualClock
) -> None:
    answers = iter([Retry("HTTP_502"), Delivered("too-late")])
    telegram = await scene.linked_channel("telegram", lambda o: next(answers))
    message_id = await scene.accept(PHONE)
    worker = scene.worker(telegram)
    await drain(worker)
    assert [a.status for a in (await scene.view(message_id)).attempts] == ["retrying"]
    assert await cancel(scene, message_id) == ["cancelled"]
    clock.advance(5)
    await drain(worker)
    v = await scene.view(message_id)
    assert v.status == "cancelled"
    assert [(a.status, a.reason) for a in v.attempts] == [("failed", "CANCELLED")]
    assert len(telegram.sent) == 1


async def test_a_final_message_is_left_alone_and_answered_with_its_status(
    scene: Scene, store: Store, clock: ManualClock
) -> None:
    sms = plain("sms", lambda o: Delivered("sms-done"))
    message_id = await scene.accept(PHONE)
    await scene.run(sms)
    before = await message_row(store, message_id)
    clock.advance(5)
    assert await cancel(scene, message_id) == ["delivered"]
    assert await message_row(store, message_id) == before


async def test_another_accounts_or_an_unknown_id_is_not_found_and_nothing_changes(
    scene: Scene, store: Store, clock: ManualClock
) -> None:
    message_id = await scene.accept(PHONE)
    before = await message_row(store, message_id)
    other = await make_account(store, "other")
    outcomes = await cancel_messages(store, other.id, message_ids=[message_id, "no-such-id"])
    assert outcomes == [
        CancelOutcome(message_id, "not_found"),
        CancelOutcome("no-such-id", "not_found"),
    ]
    by_tracking = await cancel_messages(store, other.id, tracking_ids=[before[2]])
    assert [o.status for o in by_tracking] == ["not_found"]
    assert await message_row(store, message_id) == before
    assert await store.pending_tasks() == 1


async def test_cancel_by_tracking_id_answers_each_id_in_order(
    scene: Scene, store: Store, clock: ManualClock
) -> None:
    first = await scene.accept(PHONE, id="order-1")
    second = await scene.accept(PHONE, id="order-2")
    outcomes = await cancel_messages(
        store, scene.account.id, tracking_ids=["order-2", "missing", "order-1", "order-2"]
    )
    assert outcomes == [
        CancelOutcome("order-2", "cancelled", second),
        CancelOutcome("missing", "not_found"),
        CancelOutcome("order-1", "cancelled", first),
    ]


async def test_cancelling_again_changes_nothing(
    scene: Scene, store: Store, clock: ManualClock
) -> None:
    viber = await scene.linked_channel("viber_bot", lambda o: Sent("vb-4"))
    waiting = await scene.accept(PHONE, id="waiting")
    await drain(scene.worker(viber))
    queued = await scene.accept(PHONE, id="queued")
    assert await cancel(scene, waiting, queued) == ["cancelling", "cancelled"]
    marked = await message_row(store, waiting)
    ended = await message_row(store, queued)
    clock.advance(1)
    assert await cancel(scene, waiting, queued) == ["cancelling", "cancelled"]
    assert await message_row(store, waiting) == marked
    assert await message_row(store, queued) == ended


async def test_a_cancelled_message_owes_its_status_webhook(
    scene: Scene, store: Store, clock: ManualClock, account: TestAccount
) -> None:
    await store.add_callback(account.id, "http://127.0.0.1:9/hook", "secret")
    message_id = await scene.accept(PHONE)
    assert await cancel(scene, message_id) == ["cancelled"]
    events = await store.claim_callback_events(clock.now_ms(), 1000, 100)
    told = [msgspec.json.decode(e[3]) for e in events]
    assert [(e["messageId"], e["status"]) for e in told] == [(message_id, "cancelled")]


@pytest.mark.parametrize(
    ("message_ids", "tracking_ids", "code"),
    [
        ([], None, "EMPTY_BATCH"),
        (None, [], "EMPTY_BATCH"),
        (["x"] * 5001, None, "BATCH_TOO_LARGE"),
        (None, None, "INVALID_REQUEST"),
        (["a"], ["b"], "INVALID_REQUEST"),
        ([""], None, "INVALID_ID"),
    ],
)
async def test_a_request_the_contract_refuses_stores_nothing(
    scene: Scene,
    store: Store,
    message_ids: list[str] | None,
    tracking_ids: list[str] | None,
    code: str,
) -> None:
    message_id = await scene.accept(PHONE)
    before = await message_row(store, message_id)
    with pytest.raises(RequestRejected) as refused:
        await cancel_messages(
            store, scene.account.id, message_ids=message_ids, tracking_ids=tracking_ids
        )
    assert refused.value.code == code
    assert await message_row(store, message_id) == before


async def test_a_cancelled_core_api_message_owes_its_d7_webhook(
    store: Store, clock: ManualClock, account: TestAccount
) -> None:
    await store.add_callback(account.id, "http://127.0.0.1:9/hook", "secret")
    d = draft("sale-1", now_ms=clock.now_ms())
    [message_id] = await store.accept(account.id, [new(d, surface=Surface.BAT)])
    outcomes = await cancel_messages(store, account.id, tracking_ids=["sale-1"])
    assert outcomes == [CancelOutcome("sale-1", "cancelled", message_id)]
    events = await store.claim_callback_events(clock.now_ms(), 1000, 100)
    [told] = [msgspec.json.decode(e[3]) for e in events]
    assert (told["messageId"], told["customerMessageId"], told["deliverystatus"]) == (
        message_id,
        "sale-1",
        "undeliverable",
    )
