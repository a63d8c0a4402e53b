"""The engine's cascade over the store (in memory, SQLite and PostgreSQL), with scripted
channels.

Channels here are in-memory `Channel` implementations that answer per phone; the real
adapters and simulators have their own tests. Time is a ManualClock.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa

from cascade.api.wire import MessageIn
from cascade.channels.registry import BY_NAME
from cascade.clock import ManualClock
from cascade.domain.content import (
    Action,
    ActionKind,
    Button,
    Content,
    ContentKind,
    Media,
    MediaKind,
    Step,
)
from cascade.domain.delivery import MAX_TRIES
from cascade.domain.events import DeliveryReport
from cascade.domain.message import Context, Form, Route, validate
from cascade.domain.records import NewAttempt
from cascade.domain.sending import (
    Delivered,
    Failed,
    Limits,
    Outbound,
    Outcome,
    Retry,
    Sent,
    Throttled,
    Unreachable,
)
from cascade.engine.worker import Worker, WorkerConfig
from cascade.security import hash_secret
from cascade.store import NewMessage, schema
from cascade.store.memory import MemoryStore
from cascade.store.sql import SqlStore
from tests.conftest import BACKENDS, TestAccount

Store = SqlStore | MemoryStore

# a case that reaches into the SQL store itself (its transactions, its statements): it runs
# on the SQL backends only
sql_only = pytest.mark.parametrize("any_store_url", BACKENDS, indirect=True)


@pytest.fixture
def store(any_store: Store) -> Store:
    """Every backend: in memory, SQLite, PostgreSQL."""
    return any_store


SURVEY = frozenset({ContentKind.TEXT, ContentKind.SURVEY})
RICH = SURVEY | {ContentKind.IMAGE, ContentKind.BUTTONS}
LIMITS = Limits(
    max_text=4096,
    per_sender_per_second=None,
    per_recipient_per_second=None,
    confirms_delivery=False,
    delivery_window_s=60,
    carries=SURVEY,
)


@dataclass
class ScriptedChannel:
    name: str
    limits: Limits = LIMITS
    script: dict[str, Callable[[Outbound], Outcome]] = field(default_factory=dict)
    sent: list[Outbound] = field(default_factory=list)

    def __post_init__(self) -> None:
        # a stand-in reaches people as the real channel does (a bot channel through
        # contacts) and carries text if the real one does (a flash call carries none)
        spec = BY_NAME.get(self.name)
        if spec is not None:
            real = spec.limits
            carries = self.limits.carries if ContentKind.TEXT in real.carries else real.carries
            self.limits = replace(self.limits, bot_no_contact=real.bot_no_contact, carries=carries)

    async def send(self, out: Outbound) -> Outcome:
        self.sent.append(out)
        answer = self.script.get(out.phone)
        if answer is None:
            return Unreachable("NO_SUCH_USER")
        return answer(out)

    async def aclose(self) -> None:
        return None


def confirming(name: str) -> ScriptedChannel:
    return ScriptedChannel(name, Limits(4096, None, None, True, 60, carries=SURVEY))


async def drain(worker: Worker, rounds: int = 20) -> None:
    for _ in range(rounds):
        if await worker.run_once() == 0:
            return


@dataclass
class Scene:
    """The test's store, clock and account, and what the cases here do with them."""

    store: Store
    clock: ManualClock
    account: TestAccount

    async def accept(self, phone: str, **fields: object) -> str:
        item = MessageIn(
            id=str(fields.pop("id", f"m-{phone}-{self.clock.now_ms()}")),
            from_name="Shop",
            to_phone=phone,
            message_type=str(fields.pop("message_type", "transaction")),
            text=str(fields.pop("text", "Hello")),
            ttl=fields.pop("ttl", None),  # type: ignore[arg-type]
            scheduled_sent=fields.pop("scheduled_sent", None),  # type: ignore[arg-type]
        )
        return await self._accept(item, b"f" * 16)

    async def accept_item(self, item: MessageIn) -> str:
        return await self._accept(item, uuid.uuid4().bytes)

    async def accept_plan(self, plan: tuple[Step, ...]) -> str:
        """A message (a standard-route transaction but for its plan) with `plan`."""
        item = MessageIn(
            id=f"p-{uuid.uuid4()}",
            from_name="Shop",
            to_phone=PHONE,
            message_type="transaction",
            text="Route",
        )
        return await self._accept(item, uuid.uuid4().bytes, plan)

    async def _accept(
        self, item: MessageIn, fingerprint: bytes, plan: tuple[Step, ...] = ()
    ) -> str:
        form: Form = "array"
        ctx = Context(
            form, Route.STANDARD, self.clock.now_ms(), "Shop", {}, "http://x", lambda: "c"
        )
        draft = replace(validate(item, fingerprint, ctx), plan=plan)
        new = NewMessage(str(uuid.uuid4()), draft)
        [message_id] = await self.store.accept(self.account.id, [new])
        return message_id

    async def add_bot(self, channel: str) -> str:
        token = f"{channel}-token-{self.account.id}"
        return await self.store.add_bot(self.account.id, channel, token, hash_secret(token))

    async def link(self, channel: str) -> str:
        """A bot of the account's on `channel`, with PHONE's chat on it known: the bot's id."""
        address, _ = LINKS[channel]
        bot = await self.add_bot(channel)
        await self.store.link_contact(channel, bot, PHONE, address)
        return bot

    async def linked_channel(
        self, channel: str, answer: Callable[[Outbound], Outcome]
    ) -> ScriptedChannel:
        """`channel`, PHONE linked on it (see `link`), answering PHONE with `answer`."""
        await self.link(channel)
        scripted = LINKS[channel][1]()
        scripted.script[PHONE] = answer
        return scripted

    def worker(self, *channels: ScriptedChannel) -> Worker:
        return Worker(
            self.store,
            self.clock,
            {c.name: c for c in channels},
            {},
            WorkerConfig(batch=50, enforce_rates=False),
            owner="test-worker",
        )

    async def run(self, *channels: ScriptedChannel) -> None:
        """One worker on `channels`, until it has nothing left to do now."""
        await drain(self.worker(*channels))

    async def view(self, message_id: str):  # type: ignore[no-untyped-def]
        found = await self.store.message_view(self.account.id, message_id=message_id)
        assert found is not None
        return found


# a bot channel: PHONE's address on it, and the scripted channel that stands for it
LINKS: dict[str, tuple[str, Callable[[], ScriptedChannel]]] = {
    "telegram": ("777", lambda: ScriptedChannel("telegram")),
    "viber_bot": ("vb-user", lambda: confirming("viber_bot")),
}


@pytest.fixture
def scene(store: Store, clock: ManualClock, account: TestAccount) -> Scene:
    return Scene(store, clock, account)


PHONE = "+380501234567"


async def test_telegram_user_gets_it_on_telegram(scene: Scene, store: Store) -> None:
    telegram = await scene.linked_channel("telegram", lambda o: Delivered("tg-1"))
    message_id = await scene.accept(PHONE)
    await scene.run(telegram)
    v = await scene.view(message_id)
    assert (v.status, v.channel) == ("delivered", "telegram")
    assert [o.address for o in telegram.sent] == ["777"]
    assert [(a.channel, a.status) for a in v.attempts] == [("telegram", "delivered")]
    assert await store.pending_tasks() == 0


async def test_no_chat_falls_back_to_viber_and_waits_for_the_report(
    scene: Scene, store: Store, clock: ManualClock
) -> None:
    await scene.add_bot("telegram")
    viber = await scene.linked_channel("viber_bot", lambda o: Sent("vb-1"))
    telegram = ScriptedChannel("telegram")
    message_id = await scene.accept(PHONE)
    worker = scene.worker(telegram, viber)
    await drain(worker)
    v = await scene.view(message_id)
    assert v.status == "processing"
    assert [(a.channel, a.status, a.reason) for a in v.attempts] == [
        ("telegram", "unreachable", "NO_CHAT"),
        ("viber_bot", "sent", None),
    ]
    assert telegram.sent == []  # skipped at once: no chat known
    assert await store.record_report("viber_bot", "vb-1", "delivered", clock.now_ms())
    v = await scene.view(message_id)
    assert (v.status, v.channel) == ("delivered", "viber_bot")
    assert await store.record_report("viber_bot", "vb-1", "read", clock.now_ms())
    assert (await scene.view(message_id)).status == "read"


async def test_blocked_bot_marks_contact_and_moves_on(scene: Scene, store: Store) -> None:
    bot = await scene.link("telegram")
    telegram = ScriptedChannel(
        "telegram", script={PHONE: lambda o: Unreachable("BLOCKED", blocked=True)}
    )
    message_id = await scene.accept(PHONE)
    await scene.run(telegram)
    v = await scene.view(message_id)
    assert v.status == "undeliverable"
    assert [(a.channel, a.status, a.reason) for a in v.attempts][:2] == [
        ("telegram", "unreachable", "BLOCKED"),
        ("viber_bot", "skipped", "NOT_CONFIGURED"),
    ]
    contacts = await store.contacts([PHONE])
    assert contacts[("telegram", bot, PHONE)].reachable is False
    # the next message is not even tried on Telegram
    second = await scene.accept(PHONE, id="again")
    await scene.run(telegram)
    assert len(telegram.sent) == 1
    reasons = [a.reason for a in (await scene.view(second)).attempts]
    assert reasons[0] == "BLOCKED"


async def test_window_ends_then_next_step_then_undeliverable(
    scene: Scene, store: Store, clock: ManualClock
) -> None:
    viber = await scene.linked_channel("viber_bot", lambda o: Sent("vb-never"))
    message_id = await scene.accept(PHONE)
    worker = scene.worker(viber)
    await drain(worker)
    assert (await scene.view(message_id)).status == "processing"
    clock.advance(59)
    await drain(worker)
    assert (await scene.view(message_id)).status == "processing"
    clock.advance(2)
    await drain(worker)
    v = await scene.view(message_id)
    assert v.status == "undeliverable"
    statuses = [(a.channel, a.status, a.reason) for a in v.attempts]
    assert ("viber_bot", "timeout", "NO_CONFIRMATION") in statuses
    assert statuses[-1] == ("sms", "skipped", "NOT_CONFIGURED")
    # a late report is still recorded on its attempt, and changes nothing else
    assert await store.record_report("viber_bot", "vb-never", "delivered", clock.now_ms())
    v = await scene.view(message_id)
    assert v.status == "undeliverable"
    assert ("viber_bot", "delivered") in [(a.channel, a.status) for a in v.attempts]


async def test_a_failure_report_during_a_claim_leaves_the_lease_standing(
    scene: Scene, store: Store, clock: ManualClock
) -> None:
    viber = await scene.linked_channel("viber_bot", lambda o: Sent("vb-1"))
    message_id = await scene.accept(PHONE)
    await scene.run(viber)
    clock.advance(61)  # the window has ended: a worker claims the message to move on
    [claimed] = await store.claim("first", clock.now_ms(), 30_000, 10)
    assert claimed.message_id == message_id
    # the report would wake the task; the first worker still acts on what it read
    assert await store.record_report("viber_bot", "vb-1", "failed", clock.now_ms(), "GONE")
    assert await store.claim("second", clock.now_ms(), 30_000, 10) == []
    v = await scene.view(message_id)
    assert [(a.channel, a.status) for a in v.attempts][-1] == ("viber_bot", "sent")
    # once the lease is over the report is applied, and the cascade goes on from it
    clock.advance(31)
    await store.match_orphans()
    v = await scene.view(message_id)
    assert ("viber_bot", "failed", "GONE") in [(a.channel, a.status, a.reason) for a in v.attempts]
    await scene.run(viber)
    assert (await scene.view(message_id)).status == "undeliverable"
    assert await store.pending_tasks() == 0


async def test_a_report_between_a_claim_and_its_commit_waits_for_the_commit(
    scene: Scene, store: Store, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    viber = await scene.linked_channel("viber_bot", lambda o: Sent("vb-1"))
    sms = plain("sms", lambda o: Sent("sms-1"))
    message_id = await scene.accept(PHONE)
    worker = scene.worker(viber, sms)
    await drain(worker)
    clock.advance(61)  # the window ends: the worker claims, plans the next step, sends it
    record_intents = store.record_intents

    async def report_first(*args: Any, **kwargs: Any) -> None:
        # the Viber report arrives after the claim, before the plan and intent commit
        assert await store.record_report("viber_bot", "vb-1", "delivered", clock.now_ms())
        await record_intents(*args, **kwargs)

    monkeypatch.setattr(store, "record_intents", report_first)
    await drain(worker)
    monkeypatch.undo()
    assert len(sms.sent) == 1
    v = await scene.view(message_id)
    # the worker's decision stands whole: the SMS is under way, and its task with it
    assert (v.status, v.attempts[-1].channel, v.attempts[-1].status) == (
        "processing",
        "sms",
        "sent",
    )
    assert await store.pending_tasks() == 1
    # the report is kept, and applied as the late report it is
    await store.match_orphans()
    v = await scene.view(message_id)
    assert ("viber_bot", "delivered") in [(a.channel, a.status) for a in v.attempts]
    assert v.status == "processing"
    assert await store.record_report("sms", "sms-1", "delivered", clock.now_ms())
    v = await scene.view(message_id)
    assert (v.status, v.channel) == ("delivered", "sms")
    assert await store.pending_tasks() == 0


async def test_ttl_runs_out_mid_cascade(scene: Scene, clock: ManualClock) -> None:
    viber = await scene.linked_channel("viber_bot", lambda o: Sent("vb-2"))
    message_id = await scene.accept(PHONE, ttl=30)
    worker = scene.worker(viber)
    await drain(worker)
    clock.advance(31)
    await drain(worker)
    v = await scene.view(message_id)
    assert (v.status, v.reason) == ("expired", "TTL_EXPIRED")
    assert len(viber.sent) == 1


async def test_scheduled_message_waits_for_its_time(scene: Scene, clock: ManualClock) -> None:
    telegram = await scene.linked_channel("telegram", lambda o: Delivered("tg"))
    from datetime import UTC, datetime

    at = datetime.fromtimestamp(clock.now_ms() / 1000 + 3600, tz=UTC).isoformat()
    message_id = await scene.accept(PHONE, scheduled_sent=at)
    worker = scene.worker(telegram)
    clock.advance(3599)
    await drain(worker)
    assert telegram.sent == []
    assert (await scene.view(message_id)).status == "scheduled"
    clock.advance(1)
    await drain(worker)
    assert (await scene.view(message_id)).status == "delivered"


async def test_transient_errors_retry_with_backoff_then_give_up(
    scene: Scene, clock: ManualClock
) -> None:
    answers = iter([Retry("HTTP_502"), Retry("TIMEOUT"), Delivered("tg-3")])
    telegram = await scene.linked_channel("telegram", lambda o: next(answers))
    message_id = await scene.accept(PHONE)
    worker = scene.worker(telegram)
    await drain(worker)
    assert len(telegram.sent) == 1
    clock.advance(1)
    await drain(worker)
    assert len(telegram.sent) == 2
    clock.advance(1)
    await drain(worker)
    assert len(telegram.sent) == 2  # the second retry waits 2 s
    clock.advance(1)
    await drain(worker)
    v = await scene.view(message_id)
    assert (v.status, len(telegram.sent)) == ("delivered", 3)
    assert len({o.attempt_id for o in telegram.sent}) == 1  # one attempt, retried
    assert len(v.attempts) == 1


async def test_throttling_pauses_without_failing(scene: Scene, clock: ManualClock) -> None:
    answers = iter([Throttled(5.0), Delivered("tg-4")])
    telegram = await scene.linked_channel("telegram", lambda o: next(answers))
    message_id = await scene.accept(PHONE)
    worker = scene.worker(telegram)
    await drain(worker)
    v = await scene.view(message_id)
    assert v.status == "processing"
    assert [(a.status, a.reason) for a in v.attempts] == [("paused", "THROTTLED")]
    clock.advance(5)
    await drain(worker)
    v = await scene.view(message_id)
    assert (v.status, len(telegram.sent)) == ("delivered", 2)


async def test_failed_report_moves_to_next_step(
    scene: Scene, store: Store, clock: ManualClock
) -> None:
    viber = await scene.linked_channel("viber_bot", lambda o: Sent("vb-f"))
    message_id = await scene.accept(PHONE)
    worker = scene.worker(viber)
    await drain(worker)
    await store.record_report("viber_bot", "vb-f", "failed", clock.now_ms(), "REJECTED")
    await drain(worker)
    v = await scene.view(message_id)
    assert v.status == "undeliverable"
    assert ("viber_bot", "failed") in [(a.channel, a.status) for a in v.attempts]


async def test_report_before_the_send_result_is_committed_is_not_lost(
    scene: Scene, store: Store, clock: ManualClock
) -> None:
    viber = await scene.linked_channel("viber_bot", lambda o: Sent("vb-fast"))
    # the provider reports delivery before the engine has stored the provider id
    assert not await store.record_report("viber_bot", "vb-fast", "delivered", clock.now_ms())
    message_id = await scene.accept(PHONE)
    await scene.run(viber)
    v = await scene.view(message_id)
    assert (v.status, v.channel) == ("delivered", "viber_bot")


TWO_SEGMENTS = Sent("seg-1", parts=2, part_ids=("seg-1", "seg-2"))


async def test_early_reports_for_any_segment_are_applied_once_its_ids_are_stored(
    scene: Scene, store: Store, clock: ManualClock
) -> None:
    viber = await scene.linked_channel("viber_bot", lambda o: TWO_SEGMENTS)
    # the second segment's report comes before the engine has stored either id
    assert not await store.record_report("viber_bot", "seg-2", "delivered", clock.now_ms())
    message_id = await scene.accept(PHONE)
    await scene.run(viber)
    assert (await scene.view(message_id)).status == "processing"  # one segment of two
    assert await store.record_report("viber_bot", "seg-1", "delivered", clock.now_ms())
    v = await scene.view(message_id)
    assert (v.status, v.channel) == ("delivered", "viber_bot")


@sql_only  # it keeps the reports by writing their rows in a transaction of its own
async def test_the_sweep_applies_reports_that_lost_the_race_with_their_ids(
    scene: Scene, store: SqlStore, clock: ManualClock
) -> None:
    viber = await scene.linked_channel("viber_bot", lambda o: TWO_SEGMENTS)
    message_id = await scene.accept(PHONE)
    await scene.run(viber)
    # kept as orphans by transactions that began before the ids were committed
    rows = [
        {"channel": "viber_bot", "provider_message_id": pid, "state": "delivered", "at": 1}
        for pid in ("seg-2", "seg-1", "unknown")
    ]
    await store._transact(lambda conn: conn.execute(schema.orphan_reports.insert(), rows))
    await store.match_orphans()
    v = await scene.view(message_id)
    assert (v.status, v.channel) == ("delivered", "viber_bot")
    left = await store._transact(
        lambda conn: [
            r[0] for r in conn.execute(sa.select(schema.orphan_reports.c.provider_message_id))
        ]
    )
    assert left == ["unknown"]


async def test_invalid_number_touches_no_channel(scene: Scene) -> None:
    telegram = ScriptedChannel("telegram")
    message_id = await scene.accept("+380111111111")
    await scene.run(telegram)
    v = await scene.view(message_id)
    assert (v.status, v.reason, v.attempts) == ("undeliverable", "INVALID_NUMBER", ())


async def test_a_send_whose_result_was_never_committed_is_not_repeated(
    scene: Scene, store: Store, clock: ManualClock, account: TestAccount
) -> None:
    telegram = await scene.linked_channel("telegram", lambda o: Delivered("tg"))
    message_id = await scene.accept(PHONE)
    # a worker claims and commits its intent, then dies before sending's result is stored
    from cascade.domain.planner import plan
    from cascade.ids import new_id

    [claimed] = await store.claim("dead-worker", clock.now_ms(), 30_000, 10)
    senders = {(account.id, "telegram"): await store.senders([account.id])}
    intent = plan(
        claimed,
        clock.now_ms(),
        {"telegram": _info()},
        senders,
        await store.contacts([PHONE]),
        new_id=new_id,
    )
    assert intent.send is not None
    await store.apply([intent.transition])
    assert isinstance(intent.send.intent, NewAttempt)
    await store.record_intents([intent.send.intent], [])
    worker = scene.worker(telegram)
    await drain(worker)
    assert telegram.sent == []  # the lease has not run out
    clock.advance(31)
    await drain(worker)
    v = await scene.view(message_id)
    assert telegram.sent == []
    assert (v.status, v.reason) == ("undeliverable", "IN_DOUBT")
    assert [(a.status, a.reason) for a in v.attempts] == [("unknown", "IN_DOUBT")]


async def test_a_send_left_sending_goes_again_where_the_provider_refuses_repeats(
    scene: Scene, store: Store, clock: ManualClock
) -> None:
    """RBM refuses a second message under one messageId: a send a dead worker left
    `sending` is sent again as the same attempt, once the lease has run out, and its
    answer settles it (here: delivered) — not left in doubt."""
    from cascade.domain.planner import ChannelInfo, plan
    from cascade.ids import new_id

    limits = Limits(4096, None, None, True, 60, idempotent_sends=True)
    rcs = ScriptedChannel("rcs", limits, {PHONE: lambda o: Delivered("rbm-1")})
    message_id = await scene.accept(PHONE)
    [claimed] = await store.claim("dead-worker", clock.now_ms(), 30_000, 10)
    dead = plan(claimed, clock.now_ms(), {"rcs": ChannelInfo(limits, 60)}, {}, {}, new_id=new_id)
    assert dead.send is not None
    assert isinstance(dead.send.intent, NewAttempt)
    await store.apply([dead.transition])
    await store.record_intents([dead.send.intent], [])
    worker = scene.worker(rcs)
    await drain(worker)
    assert rcs.sent == []  # the lease has not run out
    clock.advance(31)
    await drain(worker)
    assert [o.attempt_id for o in rcs.sent] == [dead.send.attempt_id]
    v = await scene.view(message_id)
    assert (v.status, v.channel) == ("delivered", "rcs")
    # the steps before were passed over (not configured); the one send, delivered
    assert [(a.channel, a.status) for a in v.attempts if a.status != "skipped"] == [
        ("rcs", "delivered")
    ]


def _info():  # type: ignore[no-untyped-def]
    from cascade.domain.planner import ChannelInfo

    return ChannelInfo(LIMITS, 60)


@pytest.mark.parametrize("reason", ["REJECTED", "INVALID_TOKEN"])
async def test_permanent_failure_moves_on(scene: Scene, reason: str) -> None:
    telegram = await scene.linked_channel("telegram", lambda o: Failed(reason))
    message_id = await scene.accept(PHONE)
    await scene.run(telegram)
    v = await scene.view(message_id)
    assert v.status == "undeliverable"
    assert (v.attempts[0].status, v.attempts[0].reason) == ("failed", reason)


# --- content per channel, flash calls, segments, revocation, account order -----------------


def plain(
    name: str, answer: Callable[[Outbound], Outcome] | None = None, **limits: object
) -> ScriptedChannel:
    values: dict[str, object] = {
        "max_text": 4096,
        "per_sender_per_second": None,
        "per_recipient_per_second": None,
        "confirms_delivery": True,
        "delivery_window_s": 60,
        "carries": frozenset({ContentKind.TEXT}),
    }
    values.update(limits)
    channel = ScriptedChannel(name, Limits(**values))  # type: ignore[arg-type]
    if answer is not None:
        channel.script[PHONE] = answer
    return channel


async def test_survey_goes_as_numbered_lines_where_no_keyboard_exists(scene: Scene) -> None:
    sms = plain("sms", lambda o: Sent("sms-1"))
    item = MessageIn(
        id="s1",
        from_name="Shop",
        to_phone=PHONE,
        message_type="viber_survey",
        text="How was it?",
        survey_options=["Good", "Bad"],
    )
    await scene.accept_item(item)
    await scene.run(sms)
    [out] = sms.sent
    assert out.text == "How was it?\n1. Good\n2. Bad"
    assert out.content.survey == ()


async def test_promo_media_goes_where_carried_and_degrades_to_a_link_elsewhere(
    scene: Scene,
) -> None:
    rich = plain(
        "rcs",
        lambda o: Unreachable("NO_RCS"),
        carries=RICH,
    )
    sms = plain("sms", lambda o: Sent("sms-2"))
    item = MessageIn(
        id="p1",
        from_name="Shop",
        to_phone=PHONE,
        message_type="promo",
        text="Sale!",
        image_url="https://img.test/a.png",
        button_text="Shop now",
        button_url="https://shop.test/sale",
    )
    await scene.accept_item(item)
    await scene.run(rich, sms)
    assert (rich.sent[0].content.image_url, rich.sent[0].content.url_button()) == (
        "https://img.test/a.png",
        ("Shop now", "https://shop.test/sale"),
    )
    assert rich.sent[0].text == "Sale!"
    assert sms.sent[0].text == "Sale!\nhttps://shop.test/sale"
    assert sms.sent[0].content.image_url is None


async def test_an_explicit_plan_replaces_the_route_each_step_with_its_own_content(
    scene: Scene,
) -> None:
    # the person is on Telegram, but the plan names other channels: Telegram is not tried
    telegram = await scene.linked_channel("telegram", lambda o: Delivered("tg-1"))
    viber = plain("viber_business", lambda o: Failed("REJECTED"), carries=RICH)
    sms = plain("sms", lambda o: Delivered("sms-1"))
    promo = Content(
        text="Spring sale",
        media=Media(MediaKind.IMAGE, "https://img.test/a.png"),
        buttons=(Button("Shop", Action(ActionKind.OPEN_URL, url="https://shop.test/s")),),
    )
    fallback = Content(text="Spring sale: https://shop.test/s")
    message_id = await scene.accept_plan(
        (
            Step("viber_business", promo, "promo", "viber_promo"),
            Step("rcs", promo),  # not configured: skipped
            Step("sms", fallback, wire_type="sms"),
        )
    )
    await scene.run(telegram, viber, sms)
    assert telegram.sent == []
    [primary] = viber.sent
    assert (primary.content, primary.message_type) == (promo, "promo")
    [last] = sms.sent
    assert (last.content, last.message_type) == (fallback, "transaction")
    v = await scene.view(message_id)
    assert (v.status, v.channel) == ("delivered", "sms")
    assert [(a.step, a.channel, a.status, a.reason) for a in v.attempts] == [
        (0, "viber_business", "failed", "REJECTED"),
        (1, "rcs", "skipped", "NOT_CONFIGURED"),
        (2, "sms", "delivered", None),
    ]
    assert [step.wire_type for step in v.plan] == ["viber_promo", None, "sms"]


async def test_flash_call_code_is_verified_with_limited_attempts(
    scene: Scene, store: Store, clock: ManualClock, account: TestAccount
) -> None:
    from cascade.domain.delivery import code_hash

    call = plain("flashcall", lambda o: Sent("CA1", detail="***234567", secret="4567"))
    item = MessageIn(id="f1", from_name="App", to_phone=PHONE, message_type="flashcall")
    message_id = await scene.accept_item(item)
    await scene.run(call)
    v = await scene.view(message_id)
    assert (v.attempts[0].channel, v.attempts[0].detail) == ("flashcall", "***234567")
    assert await store.record_report("flashcall", "CA1", "delivered", clock.now_ms())
    assert (await scene.view(message_id)).status == "delivered"
    check = store.verify_code
    assert await check(account.id, message_id, code_hash(message_id, "0000")) == "WRONG"
    assert await check(account.id, message_id, code_hash(message_id, "4567")) == "OK"
    assert await check("other-account", message_id, code_hash(message_id, "4567")) == "UNKNOWN"


async def test_flash_call_attempts_run_out(
    scene: Scene, store: Store, account: TestAccount
) -> None:
    from cascade.domain.delivery import code_hash

    call = plain("flashcall", lambda o: Sent("CA2", detail="***000001", secret="0001"))
    item = MessageIn(id="f2", from_name="App", to_phone=PHONE, message_type="flashcall")
    message_id = await scene.accept_item(item)
    await scene.run(call)
    results = [
        await store.verify_code(account.id, message_id, code_hash(message_id, "9999"))
        for _ in range(3)
    ]
    assert results == ["WRONG", "WRONG", "EXHAUSTED"]
    right = code_hash(message_id, "0001")
    assert await store.verify_code(account.id, message_id, right) == "EXHAUSTED"


async def test_failed_flash_call_sends_the_fallback_through_the_standard_route(
    scene: Scene, clock: ManualClock
) -> None:
    from cascade.api.wire import FallbackIn

    call = plain("flashcall", lambda o: Unreachable("INVALID_NUMBER"))
    sms = plain("sms", lambda o: Delivered("sms-3"))
    item = MessageIn(
        id="f3",
        from_name="App",
        to_phone=PHONE,
        message_type="flashcall",
        fallback=FallbackIn(message_type="transaction", text="Your code: 1234"),
    )
    message_id = await scene.accept_item(item)
    await scene.run(call, sms)
    v = await scene.view(message_id)
    assert (v.status, v.channel) == ("delivered", "sms")
    assert [o.text for o in sms.sent] == ["Your code: 1234"]
    assert sms.sent[0].message_type == "transaction"
    # the fallback has a TTL of its own (transaction: a day), not the call's 300 s
    assert v.expires_at_ms - clock.now_ms() > 86_000_000


async def test_unanswered_flash_call_falls_back_when_its_ttl_passes(
    scene: Scene, clock: ManualClock
) -> None:
    from cascade.api.wire import FallbackIn

    call = plain(
        "flashcall",
        lambda o: Sent("CA3", detail="***000002", secret="0002"),
        delivery_window_s=2_592_000,
    )
    sms = plain("sms", lambda o: Delivered("sms-4"))
    item = MessageIn(
        id="f4",
        from_name="App",
        to_phone=PHONE,
        message_type="flashcall",
        fallback=FallbackIn(text="Code 0002"),
    )
    message_id = await scene.accept_item(item)
    worker = scene.worker(call, sms)
    await drain(worker)
    clock.advance(299)
    await drain(worker)
    assert sms.sent == []
    clock.advance(2)
    await drain(worker)
    v = await scene.view(message_id)
    assert (v.status, v.channel) == ("delivered", "sms")
    assert (v.attempts[0].channel, v.attempts[0].status) == ("flashcall", "timeout")


async def test_sms_in_segments_is_delivered_when_every_segment_is(
    scene: Scene, store: Store, clock: ManualClock
) -> None:
    sms = plain("sms", lambda o: Sent("p1", parts=3, part_ids=("p1", "p2", "p3")))
    message_id = await scene.accept(PHONE, text="x" * 400)
    await scene.run(sms)
    assert (await scene.view(message_id)).attempts[-1].parts == 3
    for part in ("p2", "p2", "p1"):  # a repeated receipt counts once
        assert await store.record_report("sms", part, "delivered", clock.now_ms())
    assert (await scene.view(message_id)).status == "processing"
    assert await store.record_report("sms", "p3", "delivered", clock.now_ms())
    assert (await scene.view(message_id)).status == "delivered"


async def test_receipts_in_one_group_apply_in_order(
    scene: Scene, store: Store, clock: ManualClock, account: TestAccount
) -> None:
    """A group commit of receipts sees each earlier receipt of the group, as if one by one."""
    parts = iter([("a1", "a2"), ("b1",)])
    sms = plain("sms", lambda o: Sent((ids := next(parts))[0], parts=len(ids), part_ids=ids))
    in_parts = await scene.accept(PHONE, text="x" * 400)
    await scene.run(sms)
    clock.advance(1)  # another tracking id
    whole = await scene.accept(PHONE, text="one part")
    await scene.run(sms)
    await store.add_callback(account.id, "http://127.0.0.1:9/hook", "hook-secret")
    now = clock.now_ms()
    reads: list[str] = []

    def note_reads(*args: Any) -> None:
        statement = args[2]
        if statement.startswith("SELECT") and "FROM messages" in statement:
            reads.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", note_reads)
    try:
        found = await store.record_reports(
            [
                DeliveryReport("sms", "a1", "delivered", now),
                DeliveryReport("sms", "a1", "delivered", now),  # repeated: counts once
                DeliveryReport("sms", "b1", "delivered", now),
                DeliveryReport("sms", "nobody", "delivered", now),  # kept for later
                DeliveryReport("sms", "b1", "read", now + 1),
                DeliveryReport("sms", "a2", "delivered", now + 2),
            ]
        )
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", note_reads)
    assert found == [True, True, True, False, True, True]
    if isinstance(store, SqlStore):  # the messages are read once, for reports and webhooks
        assert len(reads) == 1
    first, second = await scene.view(in_parts), await scene.view(whole)
    assert (first.status, first.attempts[-1].status) == ("delivered", "delivered")
    assert (second.status, second.attempts[-1].status) == ("read", "read")
    events = await store.claim_callback_events(clock.now_ms(), 1000, 100)
    told: dict[str, list[tuple[str, int]]] = {}
    for event in events:
        payload = msgspec.json.decode(event[3])
        told.setdefault(payload["messageId"], []).append((payload["status"], payload["seq"]))
    assert told == {in_parts: [("delivered", 1)], whole: [("delivered", 1), ("read", 2)]}


@dataclass
class RevocableChannel(ScriptedChannel):
    revoked: list[str] = field(default_factory=list)

    async def revoke(self, sender: object, phone: str, provider_id: str) -> None:
        self.revoked.append(provider_id)


async def test_window_end_revokes_on_channels_that_can(scene: Scene, clock: ManualClock) -> None:
    rcs = RevocableChannel("rcs", Limits(3072, None, None, True, 60, carries=RICH))
    rcs.script[PHONE] = lambda o: Sent(o.attempt_id)
    message_id = await scene.accept(PHONE)
    worker = scene.worker(rcs)
    await drain(worker)
    clock.advance(61)
    await drain(worker)
    [attempt] = [a for a in (await scene.view(message_id)).attempts if a.channel == "rcs"]
    assert attempt.status == "timeout"
    assert rcs.revoked == [attempt.provider_message_id]


async def test_a_step_given_up_after_lost_answers_is_revoked_where_a_repeat_is_refused(
    scene: Scene, clock: ManualClock
) -> None:
    """RBM keys a message by its messageId, so a send whose answers were lost may still
    be delivered: when its tries are spent and the cascade moves on, it is withdrawn."""
    limits = Limits(3072, None, None, True, 60, carries=RICH, idempotent_sends=True)
    rcs = RevocableChannel("rcs", limits)
    rcs.script[PHONE] = lambda o: Retry("NO_ANSWER:ReadTimeout")
    sms = plain("sms", lambda o: Delivered("smsc-1"))
    message_id = await scene.accept(PHONE)
    worker = scene.worker(rcs, sms)
    for _ in range(MAX_TRIES):
        await drain(worker)
        if len(rcs.sent) < MAX_TRIES:
            assert rcs.revoked == []  # not while it is tried again
        clock.advance(120)
    await drain(worker)
    v = await scene.view(message_id)
    assert (v.status, v.channel) == ("delivered", "sms")
    assert len(rcs.sent) == MAX_TRIES
    assert {o.attempt_id for o in rcs.sent} == {rcs.sent[0].attempt_id}  # one attempt
    assert rcs.revoked == [rcs.sent[0].attempt_id]  # withdrawn once, when given up


async def test_account_channel_order_switches_channels_off_and_reorders(
    scene: Scene, store: Store, account: TestAccount
) -> None:
    sms = plain("sms", lambda o: Delivered("sms-5"))
    rcs = plain("rcs", lambda o: Delivered("rcs-1"))
    assert await store.set_channel_order(account.id, ["sms", "rcs"])
    message_id = await scene.accept(PHONE)
    await scene.run(sms, rcs)
    v = await scene.view(message_id)
    assert [(a.channel, a.status) for a in v.attempts] == [("sms", "delivered")]
    assert rcs.sent == []


async def test_a_receipt_naming_its_recipient_settles_a_send_left_in_doubt(
    scene: Scene, store: Store, clock: ManualClock
) -> None:
    from cascade.domain.sending import InDoubt

    sms = plain("sms", lambda o: InDoubt("NO_ANSWER:ConnectionLost"))
    other = "+380501234568"
    sms.script[other] = lambda o: InDoubt("NO_ANSWER:ConnectionLost")
    message_id = await scene.accept(PHONE, text="Your code is 1234")
    second = await scene.accept(other, text="Your code is 5678")
    await scene.run(sms)
    v = await scene.view(message_id)
    assert (v.status, v.reason) == ("undeliverable", "IN_DOUBT")
    # a receipt whose text does not match settles nothing (never a guess)
    assert not await store.record_report(
        "sms", "smsc-9", "delivered", clock.now_ms(), recipient=PHONE, text_prefix="Other"
    )
    assert await store.record_report(
        "sms", "smsc-1", "delivered", clock.now_ms(), recipient=PHONE, text_prefix="Your code"
    )
    v = await scene.view(message_id)
    assert (v.status, v.channel, v.reason) == ("delivered", "sms", None)
    assert (v.attempts[-1].status, v.attempts[-1].provider_message_id) == ("delivered", "smsc-1")
    # the other message's doubt stays until its own receipt
    assert (await scene.view(second)).status == "undeliverable"


async def test_a_send_held_back_by_a_paused_sender_keeps_the_steps_it_skipped(
    scene: Scene, clock: ManualClock
) -> None:
    # the plan (telegram skipped, viber_bot next) is committed with the send's intent;
    # a send that never leaves still commits it, once, with its result
    answers = iter([Throttled(5.0), Delivered("vb-1"), Delivered("vb-2")])
    viber = await scene.linked_channel("viber_bot", lambda o: next(answers))
    worker = scene.worker(viber)
    first = await scene.accept(PHONE, id="first")
    await drain(worker)  # throttled: the sender pauses for 5 s
    second = await scene.accept(PHONE, id="second")
    await drain(worker)
    assert len(viber.sent) == 1  # the second waits for the pause, not sent
    v = await scene.view(second)
    assert (v.status, v.reason) == ("processing", "SENDER_PAUSED")
    assert [(a.channel, a.status, a.reason) for a in v.attempts] == [
        ("telegram", "skipped", "NOT_CONFIGURED")
    ]
    clock.advance(5)
    await drain(worker)
    for message_id in (first, second):
        v = await scene.view(message_id)
        assert v.status == "delivered"
        assert [(a.channel, a.status) for a in v.attempts] == [
            ("telegram", "skipped"),
            ("viber_bot", "delivered"),
        ]


async def test_status_webhooks_follow_callbacks_added_and_removed_between_transactions(
    scene: Scene, store: Store, clock: ManualClock, account: TestAccount
) -> None:
    # the active callbacks are read once per transaction, never carried over to the next
    sms = plain("sms", lambda o: Sent(f"p-{o.message_id}"))

    async def deliver(text: str) -> str:
        clock.advance(1)  # another tracking id
        message_id = await scene.accept(PHONE, text=text)
        await scene.run(sms)
        await store.record_report("sms", f"p-{message_id}", "delivered", clock.now_ms())
        return message_id

    async def told() -> set[str]:
        events = await store.claim_callback_events(clock.now_ms(), 1000, 100)
        return {msgspec.json.decode(e[3])["messageId"] for e in events}

    await deliver("before")
    callback = await store.add_callback(account.id, "http://127.0.0.1:9/hook", "secret")
    during = await deliver("during")
    assert await store.remove_callback(account.id, callback)
    await deliver("after")
    assert await told() == {during}
