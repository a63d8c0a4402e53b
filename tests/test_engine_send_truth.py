"""The truth of a send through crashes and outages (issue 12, point 2), in memory and on
both databases.

- A send is in doubt only if its request left the process: one that waited inside its
  channel (an SMPP window slot) when the worker died is sent again, once.
- A receipt that arrives while its send is still `sending` is kept with what can match
  it, and settles the send once the send is found in doubt.
- Results the worker knows but could not commit are committed again while its lease
  lasts, instead of being dropped (which left every one of them in doubt).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from cascade.channels.base import DepartureGated
from cascade.clock import ManualClock
from cascade.domain.lifecycle import Reason
from cascade.domain.planner import plan
from cascade.domain.records import NewAttempt
from cascade.domain.sending import Delivered, Outbound, Outcome, Retry, Sent
from cascade.ids import new_id
from tests.conftest import TestAccount
from tests.test_engine import LIMITS, PHONE, Scene, ScriptedChannel, Store, drain, plain


@pytest.fixture
def store(any_store: Store) -> Store:
    """Every backend: in memory, SQLite, PostgreSQL."""
    return any_store


@pytest.fixture
def scene(store: Store, clock: ManualClock, account: TestAccount) -> Scene:
    return Scene(store, clock, account)


@dataclass
class WindowedChannel:
    """A channel whose sends wait for a slot (as SMPP submits wait for the window), then
    depart, then are answered."""

    name: str = "sms"
    limits: Any = LIMITS
    slot: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: asyncio.Event = field(default_factory=asyncio.Event)
    departed: list[str] = field(default_factory=list)

    async def send(self, out: Outbound) -> Outcome:
        raise AssertionError("a gated channel is sent through send_when")

    async def send_when(self, out: Outbound, depart: Callable[[], Awaitable[bool]]) -> Outcome:
        self.waiting.set()
        await self.slot.wait()
        if not await depart():
            return Retry(Reason.INTENT_NOT_STORED)
        self.departed.append(out.text)
        return Sent(f"smsc-{len(self.departed)}")

    async def aclose(self) -> None:
        return None


async def test_a_send_that_died_waiting_for_its_slot_is_sent_again_not_in_doubt(
    scene: Scene, store: Store, clock: ManualClock
) -> None:
    assert await store.set_channel_order(scene.account.id, ["sms"])
    message_id = await scene.accept(PHONE, text="Queued behind the window")
    windowed = WindowedChannel()
    assert isinstance(windowed, DepartureGated)
    dying = asyncio.create_task(scene.worker(windowed).run_once())  # type: ignore[arg-type]
    await windowed.waiting.wait()
    dying.cancel()  # the worker dies while its send waits for a slot
    with pytest.raises(asyncio.CancelledError):
        await dying
    v = await scene.view(message_id)
    assert [a.status for a in v.attempts if a.channel == "sms"] == []  # nothing in flight
    clock.advance(31)  # the dead worker's lease runs out
    sms = plain("sms", lambda o: Delivered("smsc-1"))
    await drain(scene.worker(sms))
    v = await scene.view(message_id)
    assert (v.status, v.channel) == ("delivered", "sms")
    assert [o.text for o in sms.sent] == ["Queued behind the window"]  # once


async def test_a_receipt_before_the_crash_is_found_settles_the_send_in_doubt(
    scene: Scene, store: Store, clock: ManualClock, account: TestAccount
) -> None:
    """The PDU left and the SMSC took it, the worker died before committing the id; the
    receipt comes (to another worker's session) while the attempt is still `sending`."""
    assert await store.set_channel_order(account.id, ["sms"])
    message_id = await scene.accept(PHONE, text="Your code is 4321")
    [claimed] = await store.claim("dead-worker", clock.now_ms(), 30_000, 10)
    from cascade.domain.planner import ChannelInfo

    decided = plan(claimed, clock.now_ms(), {"sms": ChannelInfo(LIMITS, 60)}, {}, {}, new_id=new_id)
    assert decided.send is not None
    assert isinstance(decided.send.intent, NewAttempt)
    await store.record_intents([decided.send.intent], [], [decided.transition])
    # the receipt: its id was never recorded, its send is not in doubt yet
    kept = await store.record_report(
        "sms", "smsc-77", "delivered", clock.now_ms(), recipient=PHONE, text_prefix="Your code"
    )
    assert not kept  # nothing matched yet: kept
    clock.advance(31)
    await drain(scene.worker(plain("sms")))  # the send is found in doubt
    v = await scene.view(message_id)
    assert (v.status, v.reason) == ("undeliverable", "IN_DOUBT")
    await store.match_orphans()  # the worker's periodic sweep
    v = await scene.view(message_id)
    assert (v.status, v.channel, v.reason) == ("delivered", "sms", None)
    assert (v.attempts[-1].status, v.attempts[-1].provider_message_id) == ("delivered", "smsc-77")


async def test_results_that_could_not_be_committed_are_committed_again(
    scene: Scene, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    telegram: ScriptedChannel = await scene.linked_channel("telegram", lambda o: Delivered("tg-1"))
    message_id = await scene.accept(PHONE)
    record = store.record_intents
    failures = {"left": 2}

    async def flaky(*args: Any, **kwargs: Any) -> None:
        results = kwargs.get("results", args[3] if len(args) > 3 else ())
        if results and failures["left"]:
            failures["left"] -= 1
            raise OSError("the database restarts")
        await record(*args, **kwargs)

    monkeypatch.setattr(store, "record_intents", flaky)
    await drain(scene.worker(telegram))
    assert failures["left"] == 0
    v = await scene.view(message_id)
    assert (v.status, v.channel) == ("delivered", "telegram")
    assert len(telegram.sent) == 1


@pytest.mark.parametrize(
    ("reason", "after_six"),
    [(Reason.INTENT_NOT_STORED, "processing"), ("SMSC_NOT_BOUND", "failed")],
)
async def test_a_send_whose_intent_was_not_stored_costs_no_try(
    scene: Scene, store: Store, clock: ManualClock, reason: str, after_six: str
) -> None:
    """It never left, so it is no attempt that failed: time passes, tries do not."""
    assert await store.set_channel_order(scene.account.id, ["sms"])
    message_id = await scene.accept(PHONE)
    sms = plain("sms", lambda o: Retry(reason))
    worker = scene.worker(sms)
    for _ in range(6):
        await drain(worker)
        clock.advance(600)
    v = await scene.view(message_id)
    assert len(sms.sent) == (6 if after_six == "processing" else 5)
    assert [a.status for a in v.attempts][-1:] == (
        ["retrying"] if after_six == "processing" else ["failed"]
    )


async def test_a_worker_idle_through_a_database_outage_keeps_running(
    scene: Scene, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While nothing is due the worker asks when something will be; a restarting
    database must not end it (it used to: the idle wait was outside the loop's guard)."""
    from cascade.store.base import StoreError

    asked = 0
    asked_again = asyncio.Event()
    real = store.next_due_ms

    async def restarting() -> int | None:
        nonlocal asked
        asked += 1
        if asked == 1:
            raise StoreError("the database system is shutting down")
        asked_again.set()
        return await real()

    monkeypatch.setattr(store, "next_due_ms", restarting)
    stop = asyncio.Event()
    running = asyncio.create_task(scene.worker(plain("sms")).run(stop))
    await asyncio.wait_for(asked_again.wait(), 30)
    assert not running.done()
    stop.set()
    await asyncio.wait_for(running, 30)


async def test_a_report_naming_our_reference_settles_a_send_left_in_doubt(
    scene: Scene, store: Store, clock: ManualClock, account: TestAccount
) -> None:
    """Vonage echoes our client_ref, RBM our messageId: the attempt's id. A report for a
    send whose answer was lost names an id nobody recorded, and that reference."""
    from cascade.domain.sending import InDoubt

    assert await store.set_channel_order(account.id, ["viber_business"])
    vonage = plain("viber_business", lambda o: InDoubt("NO_ANSWER:ReadTimeout"))
    message_id = await scene.accept(PHONE)
    await scene.run(vonage)
    v = await scene.view(message_id)
    assert (v.status, v.reason) == ("undeliverable", "IN_DOUBT")
    [out] = vonage.sent
    # a report naming another attempt settles nothing (never a guess)
    assert not await store.record_report(
        "viber_business", "uuid-9", "delivered", clock.now_ms(), attempt_id=new_id()
    )
    assert await store.record_report(
        "viber_business", "uuid-1", "delivered", clock.now_ms(), attempt_id=out.attempt_id
    )
    v = await scene.view(message_id)
    assert (v.status, v.channel, v.reason) == ("delivered", "viber_business", None)
    assert (v.attempts[-1].status, v.attempts[-1].provider_message_id) == ("delivered", "uuid-1")


async def test_a_report_naming_our_reference_kept_before_the_crash_is_found_settles_it(
    scene: Scene, store: Store, clock: ManualClock, account: TestAccount
) -> None:
    """The request left, the worker died before committing its answer; the provider's
    report comes while the attempt is still `sending`: kept, with our reference."""
    from cascade.domain.planner import ChannelInfo

    assert await store.set_channel_order(account.id, ["viber_business"])
    message_id = await scene.accept(PHONE)
    [claimed] = await store.claim("dead-worker", clock.now_ms(), 30_000, 10)
    info = {"viber_business": ChannelInfo(LIMITS, 60)}
    decided = plan(claimed, clock.now_ms(), info, {}, {}, new_id=new_id)
    assert decided.send is not None
    assert isinstance(decided.send.intent, NewAttempt)
    await store.record_intents([decided.send.intent], [], [decided.transition])
    kept = await store.record_report(
        "viber_business", "uuid-7", "read", clock.now_ms(), attempt_id=decided.send.attempt_id
    )
    assert not kept  # nothing matched yet: kept
    clock.advance(31)
    await drain(scene.worker(plain("viber_business")))  # the send is found in doubt
    assert (await scene.view(message_id)).reason == "IN_DOUBT"
    await store.match_orphans()  # the worker's periodic sweep
    v = await scene.view(message_id)
    assert (v.status, v.channel, v.reason) == ("read", "viber_business", None)
    assert (v.attempts[-1].status, v.attempts[-1].provider_message_id) == ("read", "uuid-7")
