"""A worker's sends stay inside its claim's lease, so no other claim of the same message
can send it too (never sent twice): a send whose turn under the channel's rate comes after
the lease is not waited for but taken again at that turn, and one that waited for a window
slot past the lease does not leave. The store's side, refusing what a claim decided once
another has taken the task, is in the store contract suite."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

from cascade.api.wire import MessageIn
from cascade.channels.base import Depart
from cascade.clock import Clock, ManualClock, SystemClock
from cascade.domain.lifecycle import Reason
from cascade.domain.message import Context, Route, validate
from cascade.domain.sending import Limits, Outbound, Outcome, Retry, Sender, Sent
from cascade.engine.worker import Worker, WorkerConfig
from cascade.store import NewMessage
from cascade.store.memory import MemoryStore
from cascade.store.sql import SqlStore
from tests.conftest import make_account
from tests.test_engine import SURVEY, ScriptedChannel

PHONE, OTHER = "+380501234567", "+380501234568"
# one message a second to each person, as Telegram allows per chat
ONE_A_SECOND = Limits(4096, None, 1.0, False, 60, carries=SURVEY)


def sms() -> ScriptedChannel:
    channel = ScriptedChannel("sms", ONE_A_SECOND)
    for phone in (PHONE, OTHER):
        channel.script[phone] = lambda out: Sent(f"sms-{uuid.uuid4()}")
    return channel


class WindowedSms(ScriptedChannel):
    """An SMS channel whose sends wait for a window slot (as SMPP's do) until `free` is
    set, and commit their intent only then, through `depart`."""

    def __init__(self) -> None:
        super().__init__("sms", sms().limits, sms().script)
        self.waiting = asyncio.Event()
        self.free = asyncio.Event()

    async def send_when(self, out: Outbound, depart: Depart) -> Outcome:
        self.waiting.set()
        await self.free.wait()
        if not await depart():
            return Retry(Reason.INTENT_NOT_STORED)
        return await self.send(out)


def worker(
    store: SqlStore | MemoryStore, clock: Clock, channel: ScriptedChannel, owner: str = "w"
) -> Worker:
    return Worker(
        store,
        clock,
        {"sms": channel},
        {},
        WorkerConfig(batch=50, lease_ms=1_000, enforce_rates=True),
        owner=owner,
        static_senders={"sms": Sender(id="sms", token="t")},
    )


async def accept(
    store: SqlStore | MemoryStore, clock: Clock, phones: list[str]
) -> tuple[str, list[str]]:
    """The account's id, and its messages to `phones`, their texts "0", "1", ..."""
    account = await make_account(store)
    ids = []
    for n, phone in enumerate(phones):
        item = MessageIn(
            id=f"m-{n}", from_name="Shop", to_phone=phone, message_type="transaction", text=str(n)
        )
        ctx = Context("array", Route.STANDARD, clock.now_ms(), "Shop", {}, "http://x", lambda: "c")
        draft = validate(item, uuid.uuid4().bytes, ctx)
        [message_id] = await store.accept(account.id, [NewMessage(str(uuid.uuid4()), draft)])
        ids.append(message_id)
    return account.id, ids


def texts(sent: list[Outbound]) -> Counter[str | None]:
    return Counter(out.text for out in sent)


def to(sent: list[Outbound]) -> Counter[str]:
    return Counter(out.phone for out in sent)


async def test_a_turn_after_the_lease_is_taken_at_a_later_claim(
    any_store: SqlStore | MemoryStore, clock: ManualClock
) -> None:
    """Three messages to one person and one to another in one claim of a 1 s lease (its
    sends must leave within 0.75 s): the first to each person goes, the next two would
    wait 1 s and 2 s, so they are paused until their turn, and the person is not paused."""
    await accept(any_store, clock, [PHONE, PHONE, PHONE, OTHER])
    channel = sms()
    paced = worker(any_store, clock, channel)
    async with asyncio.timeout(10):  # a pacer waiting on the manual clock never ends
        assert await paced.run_once() == 4
        assert to(channel.sent) == {PHONE: 1, OTHER: 1}
        assert await paced.run_once() == 0  # nothing due before the next turn
        for turn in (2, 3):
            clock.advance(1.0)
            assert await paced.run_once() >= 1
            assert to(channel.sent) == {PHONE: turn, OTHER: 1}
    assert texts(channel.sent) == {"0": 1, "1": 1, "2": 1, "3": 1}
    assert await any_store.pending_tasks() == 4  # each waits for its report window


async def test_messages_paced_past_the_lease_are_each_sent_once() -> None:
    """What went wrong before: on the real clock, five messages to one person at one a
    second under a 1 s lease; the sends waiting their turn outlived the lease, the tasks
    were claimed again and four of the five were sent twice."""
    count = 5
    clock = SystemClock()
    store = MemoryStore(clock)
    account_id, ids = await accept(store, clock, [PHONE] * count)
    channel = sms()

    async def settled() -> bool:
        """Every message's send committed: none is left `sending` or due before its report
        window ends (60 s), so no further send of these can happen."""
        views = [await store.message_view(account_id, message_id=i) for i in ids]
        sms_attempts = [[a for a in v.attempts if a.channel == "sms"] for v in views if v]
        return len(sms_attempts) == len(ids) and all(
            attempts and all(a.status == "sent" for a in attempts) for attempts in sms_attempts
        )

    stop = asyncio.Event()
    running = asyncio.create_task(worker(store, clock, channel).run(stop))
    try:
        async with asyncio.timeout(30):
            while not await settled():  # noqa: ASYNC110 - the worker runs in this loop
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await running
    assert texts(channel.sent) == {str(n): 1 for n in range(count)}
    for message_id in ids:
        view = await store.message_view(account_id, message_id=message_id)
        assert view is not None
        assert [a.status for a in view.attempts if a.channel == "sms"] == ["sent"]


async def test_a_window_slot_after_the_lease_sends_nothing_and_the_next_claim_sends(
    any_store: SqlStore | MemoryStore, clock: ManualClock
) -> None:
    """A send that waited for a window slot past its lease does not leave: the worker
    that claimed the message since is the one that sends it."""
    account_id, [message_id] = await accept(any_store, clock, [PHONE])
    held = WindowedSms()
    first = asyncio.create_task(worker(any_store, clock, held, owner="a").run_once())
    await held.waiting.wait()
    clock.advance(1.5)  # the lease is over while the send waits for its slot
    other = sms()
    assert await worker(any_store, clock, other, owner="b").run_once() == 1
    assert to(other.sent) == {PHONE: 1}
    held.free.set()
    async with asyncio.timeout(10):
        assert await first == 1
    assert held.sent == []
    view = await any_store.message_view(account_id, message_id=message_id)
    assert view is not None
    assert [a.status for a in view.attempts if a.channel == "sms"] == ["sent"]
