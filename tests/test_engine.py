"""The engine's cascade over the store (SQLite and PostgreSQL), with scripted channels.

Channels here are in-memory `Channel` implementations that answer per phone; the real
adapters and simulators have their own tests. Time is a ManualClock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from cascade.api.wire import MessageIn
from cascade.channels.base import (
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
from cascade.clock import ManualClock
from cascade.domain.message import Context, Form, Route, validate
from cascade.engine.worker import Worker, WorkerConfig
from cascade.security import hash_secret
from cascade.store import CredentialKind, NewMessage
from cascade.store.base import NewAttempt
from cascade.store.sql import SqlStore
from tests.conftest import TestAccount

LIMITS = Limits(
    max_text=4096,
    per_sender_per_second=None,
    per_recipient_per_second=None,
    confirms_delivery=False,
    delivery_window_s=60,
    carries_survey=True,
)


@dataclass
class ScriptedChannel:
    name: str
    limits: Limits = LIMITS
    script: dict[str, Callable[[Outbound], Outcome]] = field(default_factory=dict)
    sent: list[Outbound] = field(default_factory=list)

    async def send(self, out: Outbound) -> Outcome:
        self.sent.append(out)
        answer = self.script.get(out.phone)
        if answer is None:
            return Unreachable("NO_SUCH_USER")
        return answer(out)

    async def aclose(self) -> None:
        return None


def confirming(name: str) -> ScriptedChannel:
    return ScriptedChannel(name, Limits(4096, None, None, True, 60, True))


async def accept(
    store: SqlStore, clock: ManualClock, account: TestAccount, phone: str, **fields: object
) -> str:
    item = MessageIn(
        id=str(fields.pop("id", f"m-{phone}-{clock.now_ms()}")),
        from_name="Shop",
        to_phone=phone,
        message_type=str(fields.pop("message_type", "transaction")),
        text=str(fields.pop("text", "Hello")),
        ttl=fields.pop("ttl", None),  # type: ignore[arg-type]
        scheduled_sent=fields.pop("scheduled_sent", None),  # type: ignore[arg-type]
    )
    form: Form = "array"
    ctx = Context(form, Route.STANDARD, clock.now_ms(), "Shop", {}, "http://x", lambda: "c")
    draft = validate(item, b"f" * 16, ctx)
    import uuid

    [message_id] = await store.accept(account.id, [NewMessage(str(uuid.uuid4()), draft)])
    return message_id


async def add_bot(store: SqlStore, account: TestAccount, kind: CredentialKind) -> str:
    token = f"{kind.value}-token-{account.id}"
    return await store.add_bot(account.id, kind, token, hash_secret(token))


async def drain(worker: Worker, rounds: int = 20) -> None:
    for _ in range(rounds):
        if await worker.run_once() == 0:
            return


def make_worker(store: SqlStore, clock: ManualClock, *channels: ScriptedChannel) -> Worker:
    return Worker(
        store,
        clock,
        {c.name: c for c in channels},
        {},
        WorkerConfig(batch=50, enforce_rates=False),
        owner="test-worker",
    )


async def view(store: SqlStore, account: TestAccount, message_id: str):  # type: ignore[no-untyped-def]
    found = await store.message_view(account.id, message_id=message_id)
    assert found is not None
    return found


PHONE = "+380501234567"


async def test_telegram_user_gets_it_on_telegram(
    store: SqlStore, clock: ManualClock, account: TestAccount
) -> None:
    bot = await add_bot(store, account, CredentialKind.TELEGRAM)
    await store.link_contact("telegram", bot, PHONE, "777")
    telegram = ScriptedChannel("telegram", script={PHONE: lambda o: Delivered("tg-1")})
    message_id = await accept(store, clock, account, PHONE)
    await drain(make_worker(store, clock, telegram))
    v = await view(store, account, message_id)
    assert (v.status, v.channel) == ("delivered", "telegram")
    assert [o.address for o in telegram.sent] == ["777"]
    assert [(a.channel, a.status) for a in v.attempts] == [("telegram", "delivered")]
    assert await store.pending_tasks() == 0


async def test_no_chat_falls_back_to_viber_and_waits_for_the_report(
    store: SqlStore, clock: ManualClock, account: TestAccount
) -> None:
    await add_bot(store, account, CredentialKind.TELEGRAM)
    viber_bot = await add_bot(store, account, CredentialKind.VIBER)
    await store.link_contact("viber_bot", viber_bot, PHONE, "vb-user")
    telegram = ScriptedChannel("telegram")
    viber = confirming("viber_bot")
    viber.script[PHONE] = lambda o: Sent("vb-1")
    message_id = await accept(store, clock, account, PHONE)
    worker = make_worker(store, clock, telegram, viber)
    await drain(worker)
    v = await view(store, account, message_id)
    assert v.status == "processing"
    assert [(a.channel, a.status, a.reason) for a in v.attempts] == [
        ("telegram", "unreachable", "NO_CHAT"),
        ("viber_bot", "sent", None),
    ]
    assert telegram.sent == []  # skipped at once: no chat known
    assert await store.record_report("viber_bot", "vb-1", "delivered", clock.now_ms())
    v = await view(store, account, message_id)
    assert (v.status, v.channel) == ("delivered", "viber_bot")
    assert await store.record_report("viber_bot", "vb-1", "read", clock.now_ms())
    assert (await view(store, account, message_id)).status == "read"


async def test_blocked_bot_marks_contact_and_moves_on(
    store: SqlStore, clock: ManualClock, account: TestAccount
) -> None:
    bot = await add_bot(store, account, CredentialKind.TELEGRAM)
    await store.link_contact("telegram", bot, PHONE, "777")
    telegram = ScriptedChannel(
        "telegram", script={PHONE: lambda o: Unreachable("BLOCKED", blocked=True)}
    )
    message_id = await accept(store, clock, account, PHONE)
    await drain(make_worker(store, clock, telegram))
    v = await view(store, account, message_id)
    assert v.status == "undeliverable"
    assert [(a.channel, a.status, a.reason) for a in v.attempts][:2] == [
        ("telegram", "unreachable", "BLOCKED"),
        ("viber_bot", "skipped", "NOT_CONFIGURED"),
    ]
    contacts = await store.contacts([PHONE])
    assert contacts[("telegram", bot, PHONE)].reachable is False
    # the next message is not even tried on Telegram
    second = await accept(store, clock, account, PHONE, id="again")
    await drain(make_worker(store, clock, telegram))
    assert len(telegram.sent) == 1
    reasons = [a.reason for a in (await view(store, account, second)).attempts]
    assert reasons[0] == "BLOCKED"


async def test_window_ends_then_next_step_then_undeliverable(
    store: SqlStore, clock: ManualClock, account: TestAccount
) -> None:
    viber_bot = await add_bot(store, account, CredentialKind.VIBER)
    await store.link_contact("viber_bot", viber_bot, PHONE, "vb-user")
    viber = confirming("viber_bot")
    viber.script[PHONE] = lambda o: Sent("vb-never")
    message_id = await accept(store, clock, account, PHONE)
    worker = make_worker(store, clock, viber)
    await drain(worker)
    assert (await view(store, account, message_id)).status == "processing"
    clock.advance(59)
    await drain(worker)
    assert (await view(store, account, message_id)).status == "processing"
    clock.advance(2)
    await drain(worker)
    v = await view(store, account, message_id)
    assert v.status == "undeliverable"
    statuses = [(a.channel, a.status, a.reason) for a in v.attempts]
    assert ("viber_bot", "timeout", "NO_CONFIRMATION") in statuses
    assert statuses[-1] == ("sms", "skipped", "NOT_CONFIGURED")
    # a late report is still recorded on its attempt, and changes nothing else
    assert await store.record_report("viber_bot", "vb-never", "delivered", clock.now_ms())
    v = await view(store, account, message_id)
    assert v.status == "undeliverable"
    assert ("viber_bot", "delivered") in [(a.channel, a.status) for a in v.attempts]


async def test_ttl_runs_out_mid_cascade(
    store: SqlStore, clock: ManualClock, account: TestAccount
) -> None:
    viber_bot = await add_bot(store, account, CredentialKind.VIBER)
    await store.link_contact("viber_bot", viber_bot, PHONE, "vb-user")
    viber = confirming("viber_bot")
    viber.script[PHONE] = lambda o: Sent("vb-2")
    message_id = await accept(store, clock, account, PHONE, ttl=30)
    worker = make_worker(store, clock, viber)
    await drain(worker)
    clock.advance(31)
    await drain(worker)
    v = await view(store, account, message_id)
    assert (v.status, v.reason) == ("expired", "TTL_EXPIRED")
    assert len(viber.sent) == 1


async def test_scheduled_message_waits_for_its_time(
    store: SqlStore, clock: ManualClock, account: TestAccount
) -> None:
    bot = await add_bot(store, account, CredentialKind.TELEGRAM)
    await store.link_contact("telegram", bot, PHONE, "777")
    telegram = ScriptedChannel("telegram", script={PHONE: lambda o: Delivered("tg")})
    from datetime import UTC, datetime

    at = datetime.fromtimestamp(clock.now_ms() / 1000 + 3600, tz=UTC).isoformat()
    message_id = await accept(store, clock, account, PHONE, scheduled_sent=at)
    worker = make_worker(store, clock, telegram)
    clock.advance(3599)
    await drain(worker)
    assert telegram.sent == []
    assert (await view(store, account, message_id)).status == "scheduled"
    clock.advance(1)
    await drain(worker)
    assert (await view(store, account, message_id)).status == "delivered"


async def test_transient_errors_retry_with_backoff_then_give_up(
    store: SqlStore, clock: ManualClock, account: TestAccount
) -> None:
    bot = await add_bot(store, account, CredentialKind.TELEGRAM)
    await store.link_contact("telegram", bot, PHONE, "777")
    answers = iter([Retry("HTTP_502"), Retry("TIMEOUT"), Delivered("tg-3")])
    telegram = ScriptedChannel("telegram", script={PHONE: lambda o: next(answers)})
    message_id = await accept(store, clock, account, PHONE)
    worker = make_worker(store, clock, telegram)
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
    v = await view(store, account, message_id)
    assert (v.status, len(telegram.sent)) == ("delivered", 3)
    assert len({o.attempt_id for o in telegram.sent}) == 1  # one attempt, retried
    assert len(v.attempts) == 1


async def test_throttling_pauses_without_failing(
    store: SqlStore, clock: ManualClock, account: TestAccount
) -> None:
    bot = await add_bot(store, account, CredentialKind.TELEGRAM)
    await store.link_contact("telegram", bot, PHONE, "777")
    answers = iter([Throttled(5.0), Delivered("tg-4")])
    telegram = ScriptedChannel("telegram", script={PHONE: lambda o: next(answers)})
    message_id = await accept(store, clock, account, PHONE)
    worker = make_worker(store, clock, telegram)
    await drain(worker)
    v = await view(store, account, message_id)
    assert v.status == "processing"
    assert [(a.status, a.reason) for a in v.attempts] == [("paused", "THROTTLED")]
    clock.advance(5)
    await drain(worker)
    v = await view(store, account, message_id)
    assert (v.status, len(telegram.sent)) == ("delivered", 2)


async def test_failed_report_moves_to_next_step(
    store: SqlStore, clock: ManualClock, account: TestAccount
) -> None:
    viber_bot = await add_bot(store, account, CredentialKind.VIBER)
    await store.link_contact("viber_bot", viber_bot, PHONE, "vb-user")
    viber = confirming("viber_bot")
    viber.script[PHONE] = lambda o: Sent("vb-f")
    message_id = await accept(store, clock, account, PHONE)
    worker = make_worker(store, clock, viber)
    await drain(worker)
    await store.record_report("viber_bot", "vb-f", "failed", clock.now_ms(), "REJECTED")
    await drain(worker)
    v = await view(store, account, message_id)
    assert v.status == "undeliverable"
    assert ("viber_bot", "failed") in [(a.channel, a.status) for a in v.attempts]


async def test_report_before_the_send_result_is_committed_is_not_lost(
    store: SqlStore, clock: ManualClock, account: TestAccount
) -> None:
    viber_bot = await add_bot(store, account, CredentialKind.VIBER)
    await store.link_contact("viber_bot", viber_bot, PHONE, "vb-user")
    viber = confirming("viber_bot")
    viber.script[PHONE] = lambda o: Sent("vb-fast")
    # the provider reports delivery before the engine has stored the provider id
    assert not await store.record_report("viber_bot", "vb-fast", "delivered", clock.now_ms())
    message_id = await accept(store, clock, account, PHONE)
    await drain(make_worker(store, clock, viber))
    v = await view(store, account, message_id)
    assert (v.status, v.channel) == ("delivered", "viber_bot")


async def test_invalid_number_touches_no_channel(
    store: SqlStore, clock: ManualClock, account: TestAccount
) -> None:
    telegram = ScriptedChannel("telegram")
    message_id = await accept(store, clock, account, "+380111111111")
    await drain(make_worker(store, clock, telegram))
    v = await view(store, account, message_id)
    assert (v.status, v.reason, v.attempts) == ("undeliverable", "INVALID_NUMBER", ())


async def test_a_send_whose_result_was_never_committed_is_not_repeated(
    store: SqlStore, clock: ManualClock, account: TestAccount
) -> None:
    bot = await add_bot(store, account, CredentialKind.TELEGRAM)
    await store.link_contact("telegram", bot, PHONE, "777")
    telegram = ScriptedChannel("telegram", script={PHONE: lambda o: Delivered("tg")})
    message_id = await accept(store, clock, account, PHONE)
    # a worker claims and commits its intent, then dies before sending's result is stored
    from cascade.engine.planner import plan

    [claimed] = await store.claim("dead-worker", clock.now_ms(), 30_000, 10)
    senders = {(account.id, "telegram"): await store.senders([account.id])}
    intent = plan(
        claimed,
        clock.now_ms(),
        {"telegram": _info()},
        senders,
        await store.contacts([PHONE]),
        clock.now_ms() + 30_000,
    )
    assert intent.send is not None
    await store.apply([intent.transition])
    assert isinstance(intent.send.intent, NewAttempt)
    await store.record_intents([intent.send.intent], [])
    worker = make_worker(store, clock, telegram)
    await drain(worker)
    assert telegram.sent == []  # the lease has not run out
    clock.advance(31)
    await drain(worker)
    v = await view(store, account, message_id)
    assert telegram.sent == []
    assert (v.status, v.reason) == ("undeliverable", "IN_DOUBT")
    assert [(a.status, a.reason) for a in v.attempts] == [("unknown", "IN_DOUBT")]


def _info():  # type: ignore[no-untyped-def]
    from cascade.engine.planner import ChannelInfo

    return ChannelInfo(LIMITS, 60)


@pytest.mark.parametrize("reason", ["REJECTED", "INVALID_TOKEN"])
async def test_permanent_failure_moves_on(
    store: SqlStore, clock: ManualClock, account: TestAccount, reason: str
) -> None:
    bot = await add_bot(store, account, CredentialKind.TELEGRAM)
    await store.link_contact("telegram", bot, PHONE, "777")
    telegram = ScriptedChannel("telegram", script={PHONE: lambda o: Failed(reason)})
    message_id = await accept(store, clock, account, PHONE)
    await drain(make_worker(store, clock, telegram))
    v = await view(store, account, message_id)
    assert v.status == "undeliverable"
    assert (v.attempts[0].status, v.attempts[0].reason) == ("failed", reason)


# --- content per channel, flash calls, segments, revocation, account order -----------------


def plain(name: str, **limits: object) -> ScriptedChannel:
    values: dict[str, object] = {
        "max_text": 4096,
        "per_sender_per_second": None,
        "per_recipient_per_second": None,
        "confirms_delivery": True,
        "delivery_window_s": 60,
        "carries_survey": False,
        "carries_media": False,
    }
    values.update(limits)
    return ScriptedChannel(name, Limits(**values))  # type: ignore[arg-type]


async def accept_item(
    store: SqlStore, clock: ManualClock, account: TestAccount, item: MessageIn
) -> str:
    import uuid

    ctx = Context("array", Route.STANDARD, clock.now_ms(), "Shop", {}, "http://x", lambda: "c")
    draft = validate(item, uuid.uuid4().bytes, ctx)
    [message_id] = await store.accept(account.id, [NewMessage(str(uuid.uuid4()), draft)])
    return message_id


async def test_survey_goes_as_numbered_lines_where_no_keyboard_exists(
    store: SqlStore, clock: ManualClock, account: TestAccount
) -> None:
    sms = plain("sms")
    sms.script[PHONE] = lambda o: Sent("sms-1")
    item = MessageIn(
        id="s1",
        from_name="Shop",
        to_phone=PHONE,
        message_type="viber_survey",
        text="How was it?",
        survey_options=["Good", "Bad"],
    )
    await accept_item(store, clock, account, item)
    await drain(make_worker(store, clock, sms))
    [out] = sms.sent
    assert out.text == "How was it?\n1. Good\n2. Bad"
    assert out.survey_options == ()


async def test_promo_media_goes_where_carried_and_degrades_to_a_link_elsewhere(
    store: SqlStore, clock: ManualClock, account: TestAccount
) -> None:
    rich = plain("rcs", carries_media=True)
    rich.script[PHONE] = lambda o: Unreachable("NO_RCS")
    sms = plain("sms")
    sms.script[PHONE] = lambda o: Sent("sms-2")
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
    await accept_item(store, clock, account, item)
    await drain(make_worker(store, clock, rich, sms))
    assert (rich.sent[0].image_url, rich.sent[0].button_url) == (
        "https://img.test/a.png",
        "https://shop.test/sale",
    )
    assert rich.sent[0].text == "Sale!"
    assert sms.sent[0].text == "Sale!\nhttps://shop.test/sale"
    assert sms.sent[0].image_url is None


async def test_flash_call_code_is_verified_with_limited_attempts(
    store: SqlStore, clock: ManualClock, account: TestAccount
) -> None:
    from cascade.domain.delivery import code_hash

    call = plain("flashcall")
    call.script[PHONE] = lambda o: Sent("CA1", detail="***234567", secret="4567")
    item = MessageIn(id="f1", from_name="App", to_phone=PHONE, message_type="flashcall")
    message_id = await accept_item(store, clock, account, item)
    await drain(make_worker(store, clock, call))
    v = await view(store, account, message_id)
    assert (v.attempts[0].channel, v.attempts[0].detail) == ("flashcall", "***234567")
    assert await store.record_report("flashcall", "CA1", "delivered", clock.now_ms())
    assert (await view(store, account, message_id)).status == "delivered"
    check = store.verify_code
    assert await check(account.id, message_id, code_hash(message_id, "0000")) == "WRONG"
    assert await check(account.id, message_id, code_hash(message_id, "4567")) == "OK"
    assert await check("other-account", message_id, code_hash(message_id, "4567")) == "UNKNOWN"


async def test_flash_call_attempts_run_out(
    store: SqlStore, clock: ManualClock, account: TestAccount
) -> None:
    from cascade.domain.delivery import code_hash

    call = plain("flashcall")
    call.script[PHONE] = lambda o: Sent("CA2", detail="***000001", secret="0001")
    item = MessageIn(id="f2", from_name="App", to_phone=PHONE, message_type="flashcall")
    message_id = await accept_item(store, clock, account, item)
    await drain(make_worker(store, clock, call))
    results = [
        await store.verify_code(account.id, message_id, code_hash(message_id, "9999"))
        for _ in range(3)
    ]
    assert results == ["WRONG", "WRONG", "EXHAUSTED"]
    right = code_hash(message_id, "0001")
    assert await store.verify_code(account.id, message_id, right) == "EXHAUSTED"


async def test_failed_flash_call_sends_the_fallback_through_the_standard_route(
    store: SqlStore, clock: ManualClock, account: TestAccount
) -> None:
    from cascade.api.wire import FallbackIn

    call = plain("flashcall")
    call.script[PHONE] = lambda o: Unreachable("INVALID_NUMBER")
    sms = plain("sms")
    sms.script[PHONE] = lambda o: Delivered("sms-3")
    item = MessageIn(
        id="f3",
        from_name="App",
        to_phone=PHONE,
        message_type="flashcall",
        fallback=FallbackIn(message_type="transaction", text="Your code: 1234"),
    )
    message_id = await accept_item(store, clock, account, item)
    await drain(make_worker(store, clock, call, sms))
    v = await view(store, account, message_id)
    assert (v.status, v.channel) == ("delivered", "sms")
    assert [o.text for o in sms.sent] == ["Your code: 1234"]
    assert sms.sent[0].message_type == "transaction"
    # the fallback has a TTL of its own (transaction: a day), not the call's 300 s
    assert v.expires_at_ms - clock.now_ms() > 86_000_000


async def test_unanswered_flash_call_falls_back_when_its_ttl_passes(
    store: SqlStore, clock: ManualClock, account: TestAccount
) -> None:
    from cascade.api.wire import FallbackIn

    call = plain("flashcall", delivery_window_s=2_592_000)
    call.script[PHONE] = lambda o: Sent("CA3", detail="***000002", secret="0002")
    sms = plain("sms")
    sms.script[PHONE] = lambda o: Delivered("sms-4")
    item = MessageIn(
        id="f4",
        from_name="App",
        to_phone=PHONE,
        message_type="flashcall",
        fallback=FallbackIn(text="Code 0002"),
    )
    message_id = await accept_item(store, clock, account, item)
    worker = make_worker(store, clock, call, sms)
    await drain(worker)
    clock.advance(299)
    await drain(worker)
    assert sms.sent == []
    clock.advance(2)
    await drain(worker)
    v = await view(store, account, message_id)
    assert (v.status, v.channel) == ("delivered", "sms")
    assert (v.attempts[0].channel, v.attempts[0].status) == ("flashcall", "timeout")


async def test_sms_in_segments_is_delivered_when_every_segment_is(
    store: SqlStore, clock: ManualClock, account: TestAccount
) -> None:
    sms = plain("sms")
    sms.script[PHONE] = lambda o: Sent("p1", parts=3, part_ids=("p1", "p2", "p3"))
    message_id = await accept(store, clock, account, PHONE, text="x" * 400)
    await drain(make_worker(store, clock, sms))
    assert (await view(store, account, message_id)).attempts[-1].parts == 3
    for part in ("p2", "p2", "p1"):  # a repeated receipt counts once
        assert await store.record_report("sms", part, "delivered", clock.now_ms())
    assert (await view(store, account, message_id)).status == "processing"
    assert await store.record_report("sms", "p3", "delivered", clock.now_ms())
    assert (await view(store, account, message_id)).status == "delivered"


@dataclass
class RevocableChannel(ScriptedChannel):
    revoked: list[str] = field(default_factory=list)

    async def revoke(self, sender: object, phone: str, provider_id: str) -> None:
        self.revoked.append(provider_id)


async def test_window_end_revokes_on_channels_that_can(
    store: SqlStore, clock: ManualClock, account: TestAccount
) -> None:
    rcs = RevocableChannel("rcs", Limits(3072, None, None, True, 60, True, True))
    rcs.script[PHONE] = lambda o: Sent(o.attempt_id)
    message_id = await accept(store, clock, account, PHONE)
    worker = make_worker(store, clock, rcs)
    await drain(worker)
    clock.advance(61)
    await drain(worker)
    [attempt] = [a for a in (await view(store, account, message_id)).attempts if a.channel == "rcs"]
    assert attempt.status == "timeout"
    assert rcs.revoked == [attempt.provider_message_id]


async def test_account_channel_order_switches_channels_off_and_reorders(
    store: SqlStore, clock: ManualClock, account: TestAccount
) -> None:
    sms = plain("sms")
    sms.script[PHONE] = lambda o: Delivered("sms-5")
    rcs = plain("rcs")
    rcs.script[PHONE] = lambda o: Delivered("rcs-1")
    assert await store.set_channel_order(account.id, ["sms", "rcs"])
    message_id = await accept(store, clock, account, PHONE)
    await drain(make_worker(store, clock, sms, rcs))
    v = await view(store, account, message_id)
    assert [(a.channel, a.status) for a in v.attempts] == [("sms", "delivered")]
    assert rcs.sent == []


async def test_a_receipt_naming_its_recipient_settles_a_send_left_in_doubt(
    store: SqlStore, clock: ManualClock, account: TestAccount
) -> None:
    from cascade.channels.base import InDoubt

    sms = plain("sms")
    sms.script[PHONE] = lambda o: InDoubt("NO_ANSWER:ConnectionLost")
    other = "+380501234568"
    sms.script[other] = lambda o: InDoubt("NO_ANSWER:ConnectionLost")
    message_id = await accept(store, clock, account, PHONE, text="Your code is 1234")
    second = await accept(store, clock, account, other, text="Your code is 5678")
    await drain(make_worker(store, clock, sms))
    v = await view(store, account, message_id)
    assert (v.status, v.reason) == ("undeliverable", "IN_DOUBT")
    # a receipt whose text does not match settles nothing (never a guess)
    assert not await store.record_report(
        "sms", "smsc-9", "delivered", clock.now_ms(), recipient=PHONE, text_prefix="Other"
    )
    assert await store.record_report(
        "sms", "smsc-1", "delivered", clock.now_ms(), recipient=PHONE, text_prefix="Your code"
    )
    v = await view(store, account, message_id)
    assert (v.status, v.channel, v.reason) == ("delivered", "sms", None)
    assert (v.attempts[-1].status, v.attempts[-1].provider_message_id) == ("delivered", "smsc-1")
    # the other message's doubt stays until its own receipt
    assert (await view(store, account, second)).status == "undeliverable"
