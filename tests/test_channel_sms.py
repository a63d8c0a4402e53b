"""The SMS channel against the real SMSC simulator on a loopback port, in-process.

Every test binds a real SMPP transceiver session over TCP to `127.0.0.1`; the simulator
is scripted per phone (receipt state and delay, throttling, dropping the connection) and
counts what it took, so "exactly once" is checked where the messages arrive. A few
session edge cases no well-behaved SMSC produces (generic_nack, a vendor status, silence,
TLV-only receipts) are played by a small hand-driven SMPP peer at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from cascade.channels.base import SessionChannel
from cascade.channels.sms import SmsChannel, parse_receipt, pdu, validity_period
from cascade.channels.sms.pdu import Deliver
from cascade.channels.sms.session import (
    _CANONICAL_RECEIPT,
    general_receipt_fields,
    receipt_fields,
)
from cascade.channels.sms.spec import SPEC as SMS_SPEC
from cascade.clock import ManualClock
from cascade.domain.content import (
    Action,
    ActionKind,
    Button,
    Card,
    Content,
    ContentKind,
    Media,
    MediaKind,
)
from cascade.domain.events import DeliveryReport, Event, InboundMessage
from cascade.domain.sending import (
    Failed,
    InDoubt,
    Misconfigured,
    Outbound,
    Outcome,
    Retry,
    Sender,
    Sent,
    Throttled,
    Unreachable,
)
from cascade.simulators.script import Behaviour, Scripts
from cascade.simulators.smsc import SmscSimulator, create_admin_app, create_server
from cascade.simulators.smsc.server import SubmittedPart
from cascade.simulators.smsc.wire import Status
from tests import channel_cases as cases
from tests.outbound import outbound_to

pytestmark = pytest.mark.live

SYSTEM_ID = "cascade"
PASSWORD = "s3cret"
NUMERIC = "15550001111"
CYRILLIC_200 = ("Ваше замовлення №12345 підтверджено, дякуємо! " * 5)[:200]
QUICK = Behaviour(reachable=True, deliver_after_ms=20)
PHONE = "+380501234566"


# --- fixtures ---------------------------------------------------------------------------------


class Reports:
    """The engine's side of `start(sink)`: collects events, can be told to fail."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.failures = 0  # fail this many calls before taking events

    async def sink(self, events: Sequence[Event]) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("database unavailable")
        self.events.extend(events)

    def of(self, provider_id: str) -> list[DeliveryReport]:
        return [
            event
            for event in self.events
            if isinstance(event, DeliveryReport) and event.provider_id == provider_id
        ]

    async def wait_for(self, provider_id: str, within_s: float = 30.0) -> DeliveryReport:
        await eventually(lambda: bool(self.of(provider_id)), within_s)
        return self.of(provider_id)[0]


async def eventually(condition: Callable[[], bool], within_s: float = 30.0) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@pytest.fixture
async def smsc() -> AsyncIterator[SmscSimulator]:
    simulator = await create_server(
        "127.0.0.1", 0, system_id=SYSTEM_ID, password=PASSWORD, scripts=Consulted()
    )
    simulator.receipt_retry_s = 0.05
    yield simulator
    await simulator.aclose()


@pytest.fixture
def reports() -> Reports:
    return Reports()


def make_channel(port: int, **overrides: Any) -> SmsChannel:
    settings: dict[str, Any] = {
        "window": 10,
        "numeric_sender": NUMERIC,
        "enquire_interval_s": 30.0,
        "throttle_pause_s": 0.2,
        "bind_wait_s": 2.0,
        "response_timeout_s": 2.0,
        "reconnect_initial_s": 0.02,
        "reconnect_max_s": 0.2,
    }
    settings.update(overrides)
    system_id = settings.pop("system_id", SYSTEM_ID)
    password = settings.pop("password", PASSWORD)
    return SmsChannel("127.0.0.1", port, system_id, password, **settings)


@pytest.fixture
async def channel(smsc: SmscSimulator, reports: Reports) -> AsyncIterator[SmsChannel]:
    sms = make_channel(smsc.port)
    await sms.start(reports.sink)
    yield sms
    await sms.aclose()


@pytest.fixture
async def paced(
    smsc: SmscSimulator, reports: Reports
) -> AsyncIterator[tuple[SmsChannel, ManualClock]]:
    """A started channel, and the clock its throttling pause runs on (the test moves it)."""
    clock = ManualClock()
    sms = make_channel(smsc.port, clock=clock)
    await sms.start(reports.sink)
    yield sms, clock
    await sms.aclose()


def outbound(
    phone: str,
    text: str = "Your order #12345 has been confirmed",
    *,
    from_name: str = "Cascade",
    ttl: int = 3600,
) -> Outbound:
    sender = Sender(id="smpp", token="")
    return outbound_to(phone, sender, text=text, from_name=from_name, ttl_remaining_s=ttl)


async def sent(channel: SmsChannel, out: Outbound) -> Sent:
    outcome = await channel.send(out)
    assert isinstance(outcome, Sent), outcome
    return outcome


# --- the runner's bench: the channel on the SMSC simulator -----------------------------------


class Consulted(Scripts):
    """The simulator's scripts, noting each phone a submit_sm asked about."""

    def __init__(self) -> None:
        super().__init__("sms")
        self.asked: list[str] = []

    def get(self, phone: str) -> Behaviour:
        self.asked.append(phone)
        return super().get(phone)


@dataclass(frozen=True)
class Submit:
    """One message to `phone`: the SMSC answers as `script` says (None: the phone's
    persona), takes one part per entry of `parts` (key fields of each; none: it takes
    nothing), and, with a `report`, sends a receipt the session must acknowledge at once
    and pass on as a DeliveryReport of that (state, reason)."""

    phone: str
    script: Behaviour | None = None
    parts: tuple[Mapping[str, object], ...] = ({},)
    report: tuple[str, str | None] | None = None


SmsCase = cases.SendCase[Submit, SubmittedPart]


@dataclass(frozen=True)
class SmscBench:
    smsc: SmscSimulator
    secrets: tuple[str, ...] = (PASSWORD,)

    def secrets_of(self, outcome: Outcome) -> tuple[str, ...]:
        return ()

    @asynccontextmanager
    async def serving(
        self, calls: Sequence[Submit], config: Mapping[str, Any]
    ) -> AsyncIterator[cases.Served[SubmittedPart]]:
        scripts = self.smsc.scripts
        assert isinstance(scripts, Consulted)
        for call in calls:
            if call.script is not None:
                self.smsc.script(call.phone, call.script)
        reports = Reports()
        sms = make_channel(self.smsc.port, **config)
        await sms.start(reports.sink)

        async def check() -> Sequence[SubmittedPart]:
            # each script answered a submit, and no other phone got one
            asked = {call.phone for call in calls}
            assert set(scripts.asked) == asked, f"the SMSC was asked about {scripts.asked}"
            took, want = self.smsc.parts, [part for call in calls for part in call.parts]
            assert len(took) == len(want), f"the SMSC took {len(took)} parts, not {len(want)}"
            for number, (part, fields) in enumerate(zip(took, want, strict=True)):
                for key, value in fields.items():
                    got = getattr(part, key)
                    assert got == value, f"part {number + 1}: {key} is {got!r}, not {value!r}"

            first = 0  # each message's first part
            for call in calls:
                if call.report is not None:
                    assert call.parts, "a receipt for nothing sent"
                    await self.reported(reports, took[first].message_id, call.report)
                first += len(call.parts)
            return took

        try:
            yield cases.Served(sms, check)
        finally:
            await sms.aclose()

    async def reported(
        self, reports: Reports, message_id: str, expected: tuple[str, str | None]
    ) -> None:
        """The receipt for `message_id` was acknowledged at its first deliver_sm and
        passed on as `expected` (state, reason)."""
        report = await reports.wait_for(message_id)
        got = (report.channel, report.state, report.reason)
        assert got == ("sms", *expected), f"reported {got}"

        def tries() -> list[int]:
            return [r.attempts for r in self.smsc.receipts if r.message_id == message_id]

        await eventually(lambda: bool(tries()))
        assert tries() == [1]


def sent_as(detail: str) -> Callable[[Sequence[SubmittedPart]], Outcome]:
    """Sent, as the parts the SMSC took (and the ids it gave them) say."""

    def outcome(parts: Sequence[SubmittedPart]) -> Outcome:
        ids_ = tuple(part.message_id for part in parts)
        return Sent(ids_[0], parts=len(ids_), part_ids=ids_, detail=detail)

    return outcome


ONE_PART = sent_as("GSM-7, 1 part")


def send(
    label: str,
    out: Outbound,
    expected: Outcome | Callable[[Sequence[SubmittedPart]], Outcome] = ONE_PART,
    *calls: Submit,
    **config: Any,
) -> SmsCase:
    return cases.SendCase(label, out, calls, expected, config)


def one(phone: str = PHONE, script: Behaviour | None = QUICK, **fields: object) -> Submit:
    """A one-part message to `phone`, its destination an international number."""
    return Submit(
        phone, script, ({"destination_addr": phone[1:], "dest_ton": 1, "dest_npi": 1, **fields},)
    )


SUBMIT_ERRORS: list[tuple[str, Outcome]] = [
    ("ESME_RMSGQFUL", Throttled(0.2, "ESME_RMSGQFUL")),
    ("ESME_RINVDSTADR", Unreachable("INVALID_DESTINATION")),
    ("ESME_RINVDSTNPI", Unreachable("INVALID_DESTINATION")),
    ("ESME_RSYSERR", Retry("ESME_RSYSERR")),
    ("ESME_RX_T_APPN", Retry("ESME_RX_T_APPN")),
    ("ESME_RINVSRCADR", Failed("INVALID_SOURCE_ADDRESS")),
    ("ESME_RSUBMITFAIL", Failed("ESME_RSUBMITFAIL")),
    ("ESME_RINVEXPIRY", Failed("ESME_RINVEXPIRY")),
    ("anything else", Failed("ESME_RSUBMITFAIL")),
]

CASES = [
    send(
        "a delivered receipt becomes a delivery report",
        outbound(PHONE),
        ONE_PART,
        Submit(
            PHONE, QUICK, ({"text": "Your order #12345 has been confirmed"},), ("delivered", None)
        ),
    ),
    send(
        "a short text is one GSM-7 part without UDH",
        outbound(PHONE, "Total: €5 {paid}"),
        ONE_PART,
        one(text="Total: €5 {paid}", data_coding=0x00, esm_class=0x00, reference=None),
    ),
    *(
        send(
            f"a {stat} receipt is reported failed",
            outbound(PHONE),
            ONE_PART,
            Submit(
                PHONE,
                Behaviour(reachable=True, deliver_after_ms=20, receipt=stat),
                report=("failed", reason),
            ),
        )
        for stat, reason in [
            ("UNDELIV", "UNDELIV err:001"),
            ("EXPIRED", "EXPIRED err:001"),
            ("REJECTD", "REJECTD err:001"),
        ]
    ),
    # the sandbox personas drive the simulator without a script
    send(
        "persona 6 is delivered",
        outbound(PHONE),
        ONE_PART,
        Submit(PHONE, report=("delivered", None)),
    ),
    send(
        "persona 7 is undelivered",
        outbound("+380501234567"),
        ONE_PART,
        Submit("+380501234567", report=("failed", "UNDELIV err:001")),
    ),
    # an alphanumeric originator if it shows whole, else the numeric sender
    *(
        send(
            f"from {name!r}",
            outbound(PHONE, from_name=name),
            ONE_PART,
            one(source_addr=source[0], source_ton=source[1], source_npi=source[2]),
        )
        for name, source in [
            ("Cascade", ("Cascade", 5, 0)),
            ("YourStore11", ("YourStore11", 5, 0)),  # 11 characters: the most an originator shows
            ("Your Shop", ("Your Shop", 5, 0)),
            ("TwelveChars1", (NUMERIC, 1, 1)),
            ("Магазин", (NUMERIC, 1, 1)),
            ("Shop{1}", (NUMERIC, 1, 1)),  # extension characters cost two septets
            ("Café", (NUMERIC, 1, 1)),  # GSM, but not ASCII: no C-octet string carries it
            ("", (NUMERIC, 1, 1)),
        ]
    ),
    send(
        "without a numeric sender a long name is misconfigured",
        outbound(PHONE, from_name="A very long shop name"),
        Misconfigured("NO_SMS_SENDER"),
        numeric_sender="",
    ),
    # the validity period is the remaining TTL, and a receipt is requested
    *(
        send(
            f"ttl {ttl} s",
            outbound(PHONE, ttl=ttl),
            ONE_PART,
            one(validity_period=period, registered_delivery=1),
        )
        for ttl, period in [
            (3600, "000000010000000R"),
            (90_061, "000001010101000R"),
            (86_400, "000001000000000R"),
            (2_592_000, "000030000000000R"),  # the longest TTL the API takes: 30 days
            (59, "000000000059000R"),
        ]
    ),
    # what the channel refuses before the SMSC sees anything
    send("11 GSM-7 parts", outbound(PHONE, "a" * 1531), Failed("TEXT_TOO_LONG")),
    send("11 UCS-2 parts", outbound(PHONE, "ж" * 671), Failed("TEXT_TOO_LONG")),
    send("no ttl left", outbound(PHONE, ttl=0), Failed("TTL_EXPIRED")),
    send("empty text", outbound(PHONE, ""), Failed("EMPTY_TEXT")),
    send("not a number", outbound("not-a-number"), Unreachable("INVALID_DESTINATION")),
    send(
        "ten parts still go",
        outbound(PHONE, "a" * 1530),
        sent_as("GSM-7, 10 parts"),
        Submit(
            PHONE,
            QUICK,
            tuple({"text": "a" * 153, "total": 10, "sequence": n} for n in range(1, 11)),
        ),
    ),
    # what the SMSC's refusals come to: it takes nothing
    *(
        send(
            f"submit refused with {reason}",
            outbound(PHONE),
            outcome,
            Submit(PHONE, Behaviour(reachable=True, fail=True, fail_reason=reason), ()),
        )
        for reason, outcome in SUBMIT_ERRORS
    ),
]


@pytest.mark.parametrize("case", CASES, ids=cases.ids)
async def test_send(smsc: SmscSimulator, case: SmsCase) -> None:
    await cases.run_send(SmscBench(smsc), case)


# --- sending and receipts -------------------------------------------------------------------


def test_it_is_a_session_channel_with_limits_as_data() -> None:
    sms = make_channel(2775, per_sender_per_second=50.0, delivery_window_s=1800)
    assert isinstance(sms, SessionChannel)
    assert sms.name == "sms"
    assert sms.limits.max_text == 1530
    assert sms.limits.per_sender_per_second == 50.0
    assert sms.limits.confirms_delivery is True
    assert sms.limits.delivery_window_s == 1800
    assert ContentKind.SURVEY not in sms.limits.carries


@pytest.mark.parametrize(
    ("content", "parts"),
    [
        (Content(text="a" * 160), 1),  # GSM-7: 160 in one part
        (Content(text="a" * 161), 2),  # then 153 a part
        (Content(text="{" * 80), 1),  # an extension character costs two septets
        (Content(text="{" * 81), 2),
        (Content(text="ї" * 70), 1),  # UCS-2: 70 in one part
        (Content(text=CYRILLIC_200), 3),  # then 67 a part, as the send below goes
        # what SMS cannot carry is counted as the text it becomes: 155 + "\n1. a\n2. b"
        (Content(text="q" * 155, survey=("a", "b")), 2),
        (Content(caller_id="+380441234567"), 1),  # nothing SMS shows: one (empty) part
    ],
)
def test_the_spec_counts_a_steps_parts_before_it_is_sent(content: Content, parts: int) -> None:
    assert SMS_SPEC.parts(content) == parts


SHOP = "https://shop.test/sale"


def _link(text: str, url: str) -> Button:
    return Button(text, Action(ActionKind.OPEN_URL, url=url))


# a rich step sent by SMS: (what, the step's content, the text the SMSC gets, its coding)
DEGRADED: list[tuple[str, Content, str, int, int]] = [
    (
        "a survey: numbered options",
        Content(text="How was your delivery?", survey=("Good", "Bad", "Not yet")),
        "How was your delivery?\n1. Good\n2. Bad\n3. Not yet",
        0x00,
        1,
    ),
    (
        "an image and a button: the button's link",
        Content(
            text="Spring sale: -20%",
            media=Media(MediaKind.IMAGE, "https://cdn.test/spring.jpg"),
            buttons=(_link("Shop now", SHOP),),
        ),
        f"Spring sale: -20%\n{SHOP}",
        0x00,
        1,
    ),
    (
        "an image alone: its link",
        Content(text="New in", media=Media(MediaKind.IMAGE, "https://cdn.test/new.jpg")),
        "New in\nhttps://cdn.test/new.jpg",
        0x00,
        1,
    ),
    (
        "a carousel: each card's title, description and link",
        Content(
            text="New in",
            carousel=(
                Card(
                    "Shoes",
                    "Leather",
                    Media(MediaKind.IMAGE, "https://cdn.test/s.jpg"),
                    (_link("Buy", "https://shop.test/shoes"),),
                ),
                Card("Bags", None, Media(MediaKind.IMAGE, "https://cdn.test/b.jpg")),
            ),
        ),
        "New in\nShoes\nLeather\nhttps://shop.test/shoes\nBags\nhttps://cdn.test/b.jpg",
        0x00,
        1,
    ),
    (
        "a long survey in GSM-7: two parts",
        Content(text="q" * 150, survey=("yes", "no")),
        "q" * 150 + "\n1. yes\n2. no",
        0x00,
        2,
    ),
    (
        "a Cyrillic survey: UCS-2, three parts",
        Content(text=CYRILLIC_200[:140], survey=("Так", "Ні")),  # noqa: RUF001
        CYRILLIC_200[:140] + "\n1. Так\n2. Ні",  # noqa: RUF001
        0x08,
        3,
    ),
    (
        "a Cyrillic carousel: UCS-2",
        Content(text="Новинки", carousel=(Card("Взуття"), Card("Сумки", "Шкіра"))),
        "Новинки\nВзуття\nСумки\nШкіра",  # noqa: RUF001
        0x08,
        1,
    ),
]


@pytest.mark.parametrize(
    ("content", "text", "coding", "parts"),
    [d[1:] for d in DEGRADED],
    ids=[d[0] for d in DEGRADED],
)
async def test_a_rich_step_goes_by_sms_as_the_text_fit_makes_in_the_parts_the_spec_counts(
    smsc: SmscSimulator, channel: SmsChannel, content: Content, text: str, coding: int, parts: int
) -> None:
    """What the planner hands the SMS channel is `Content.fit` for what SMS carries; the
    parts `ChannelSpec.parts` counts before sending are the parts the SMSC then takes."""
    fitted = content.fit(SMS_SPEC.limits.carries)
    assert fitted == Content(text=text)
    smsc.scripts.set(PHONE, QUICK)
    out = outbound_to(PHONE, Sender(id="smpp", token=""), content=fitted, ttl_remaining_s=3600)
    result = await sent(channel, out)
    (message,) = smsc.received
    assert (message.text, message.data_coding) == (text, coding)
    assert message.parts == result.parts == SMS_SPEC.parts(content) == parts
    assert {part.data_coding for part in smsc.parts} == {coding}
    assert len(smsc.parts) == message.parts


async def test_cyrillic_200_chars_go_as_ucs2_in_3_parts_and_receipts_mark_them_delivered(
    smsc: SmscSimulator, channel: SmsChannel, reports: Reports
) -> None:
    smsc.script("+380501234566", QUICK)
    result = await sent(channel, outbound("+380501234566", CYRILLIC_200))
    assert result.parts == 3
    assert len(set(result.part_ids)) == 3
    assert result.provider_id == result.part_ids[0]
    assert result.detail == "UCS-2, 3 parts"

    parts = smsc.parts
    assert [part.sequence for part in parts] == [1, 2, 3]
    assert {part.total for part in parts} == {3}
    assert len({part.reference for part in parts}) == 1
    assert {part.data_coding for part in parts} == {0x08}
    assert {part.esm_class for part in parts} == {0x40}
    assert [part.message_id for part in parts] == list(result.part_ids)

    [message] = smsc.received
    assert message.text == CYRILLIC_200
    assert message.parts == 3
    assert message.message_ids == list(result.part_ids)

    await eventually(lambda: all(reports.of(part_id) for part_id in result.part_ids))
    for part_id in result.part_ids:
        assert [report.state for report in reports.of(part_id)] == ["delivered"]


async def test_consecutive_long_messages_get_different_references(
    smsc: SmscSimulator, channel: SmsChannel
) -> None:
    smsc.script("+380501234566", QUICK)
    await sent(channel, outbound("+380501234566", "a" * 200))
    await sent(channel, outbound("+380501234566", "b" * 200))
    assert len({part.reference for part in smsc.parts}) == 2
    assert [message.text for message in smsc.received] == ["a" * 200, "b" * 200]


async def test_a_phone_that_never_confirms_gets_no_receipt(
    smsc: SmscSimulator, channel: SmsChannel, reports: Reports
) -> None:
    smsc.script("+380501234566", Behaviour(reachable=True, deliver_after_ms=None))
    await sent(channel, outbound("+380501234566"))
    # the SMSC owes no receipt for it: none will ever come
    await eventually(lambda: smsc.receipts_owed() == {})
    assert smsc.receipts == []
    assert reports.events == []
    assert smsc.count("+380501234566") == 1


# --- addresses, validity ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "period"),
    [(31 * 86_400, "000031000000000R"), (40 * 86_400, "000110000000000R"), (1, "000000000001000R")],
)
def test_validity_period_beyond_31_days_spills_into_months(seconds: int, period: str) -> None:
    assert validity_period(seconds) == period


def test_validity_period_needs_a_second() -> None:
    with pytest.raises(ValueError, match="second"):
        validity_period(0)


# --- what the channel refuses before the SMSC sees anything ----------------------------------


# --- SMSC answers ------------------------------------------------------------------------------


async def test_throttling_pauses_sending_and_it_resumes_with_nothing_lost(
    smsc: SmscSimulator, paced: tuple[SmsChannel, ManualClock], reports: Reports
) -> None:
    channel, clock = paced
    phone = "+380501234566"
    smsc.script(phone, Behaviour(reachable=True, throttle=True))
    first = await channel.send(outbound(phone))
    assert first == Throttled(0.2, "ESME_RTHROTTLED")

    during = await channel.send(outbound(phone))  # the pause holds: the SMSC sees nothing
    assert isinstance(during, Throttled)
    assert during.reason == "PAUSED"
    assert during.retry_after_s == pytest.approx(0.2)  # the clock has not moved
    assert smsc.parts == []

    smsc.script(phone, QUICK)
    clock.advance(0.25)  # the pause is over
    result = await sent(channel, outbound(phone))
    assert (await reports.wait_for(result.provider_id)).state == "delivered"
    assert smsc.count(phone) == 1


async def test_consecutive_throttling_doubles_the_pause(
    smsc: SmscSimulator, paced: tuple[SmsChannel, ManualClock]
) -> None:
    channel, clock = paced
    smsc.script("+380501234566", Behaviour(reachable=True, throttle=True))
    assert await channel.send(outbound("+380501234566")) == Throttled(0.2, "ESME_RTHROTTLED")
    clock.advance(0.25)  # the pause is over
    assert await channel.send(outbound("+380501234566")) == Throttled(0.4, "ESME_RTHROTTLED")


async def test_the_window_bounds_submits_in_flight(smsc: SmscSimulator, reports: Reports) -> None:
    smsc.submit_delay_ms = 100
    sms = make_channel(smsc.port, window=2)
    await sms.start(reports.sink)
    try:
        texts = [f"message {n}" for n in range(6)]
        results = await asyncio.gather(*(sms.send(outbound("+380501234566", t)) for t in texts))
    finally:
        await sms.aclose()
    assert all(isinstance(result, Sent) for result in results)
    assert smsc.max_in_flight == 2
    assert sorted(message.text for message in smsc.received) == texts


# --- the connection ------------------------------------------------------------------------------


async def test_a_dropped_connection_with_submits_in_flight_is_in_doubt_never_resent(
    smsc: SmscSimulator, channel: SmsChannel, reports: Reports
) -> None:
    phones = ["+380501234561", "+380501234562", "+380501234563"]
    smsc.script(phones[0], Behaviour(reachable=True, deliver_after_ms=50, drop_connection=True))
    for phone in phones[1:]:
        smsc.script(phone, Behaviour(reachable=True, deliver_after_ms=50))

    results = await asyncio.gather(
        *(channel.send(outbound(phone, f"in flight to {phone}")) for phone in phones)
    )
    for result in results:
        assert isinstance(result, InDoubt), result
        assert result.reason.startswith("NO_SUBMIT_RESP")

    # The SMSC took every one of them, once, and answered none.
    for phone in phones:
        assert smsc.count(phone, f"in flight to {phone}") == 1
    assert not any(message.answered for message in smsc.received)

    # The session comes back by itself; later sends work, the dropping phone's too (once).
    await eventually(lambda: smsc.binds == 2)
    later = [await sent(channel, outbound(phone, f"later to {phone}")) for phone in phones]
    for phone in phones:
        assert smsc.count(phone, f"later to {phone}") == 1
        assert smsc.count(phone) == 2
    assert smsc.binds == 2

    # Receipts for the in-doubt messages still arrive, on the new link, and are reported.
    in_doubt_ids = [message.message_ids[0] for message in smsc.received if not message.answered]
    for message_id in [*in_doubt_ids, *(result.provider_id for result in later)]:
        assert (await reports.wait_for(message_id)).state == "delivered"


async def test_a_receipt_for_an_old_message_reaches_a_later_session(
    smsc: SmscSimulator, reports: Reports
) -> None:
    smsc.script("+380501234566", Behaviour(reachable=True, deliver_after_ms=150))
    first = make_channel(smsc.port)
    await first.start(Reports().sink)
    result = await sent(first, outbound("+380501234566"))
    await first.aclose()  # gone before the receipt: the SMSC holds it

    await eventually(lambda: smsc.receipts_owed() == {result.provider_id: "held"})
    assert smsc.receipts == []
    second = make_channel(smsc.port)  # another process, after a restart: nothing in memory
    await second.start(reports.sink)
    try:
        assert (await reports.wait_for(result.provider_id)).state == "delivered"
    finally:
        await second.aclose()


async def test_a_receipt_after_a_network_cut_is_reported_on_the_new_link(
    smsc: SmscSimulator, channel: SmsChannel, reports: Reports
) -> None:
    smsc.script("+380501234566", Behaviour(reachable=True, deliver_after_ms=200))
    result = await sent(channel, outbound("+380501234566"))
    smsc.disconnect_all()
    await eventually(lambda: smsc.binds == 2)
    assert (await reports.wait_for(result.provider_id)).state == "delivered"


async def test_a_receipt_the_engine_could_not_take_is_offered_again(
    smsc: SmscSimulator, channel: SmsChannel, reports: Reports
) -> None:
    reports.failures = 1
    smsc.script("+380501234566", QUICK)
    result = await sent(channel, outbound("+380501234566"))
    assert (await reports.wait_for(result.provider_id)).state == "delivered"
    await eventually(lambda: len(smsc.receipts) == 1)
    assert smsc.receipts[0].attempts == 2  # ESME_RX_T_APPN the first time, then ESME_ROK
    assert len(reports.of(result.provider_id)) == 1


async def test_enquire_link_keeps_the_session(smsc: SmscSimulator, reports: Reports) -> None:
    sms = make_channel(smsc.port, enquire_interval_s=0.05)
    await sms.start(reports.sink)
    try:
        await eventually(lambda: smsc.enquire_links >= 4)
        assert (smsc.connections, smsc.binds) == (1, 1)
        await sent(sms, outbound("+380501234566"))
    finally:
        await sms.aclose()


async def test_an_unanswered_enquire_link_drops_the_link_and_rebinds(
    smsc: SmscSimulator, reports: Reports
) -> None:
    smsc.answer_enquire_link = False
    sms = make_channel(smsc.port, enquire_interval_s=0.05, response_timeout_s=0.1)
    await sms.start(reports.sink)
    try:
        await eventually(lambda: smsc.binds >= 2)
        smsc.answer_enquire_link = True
        await sent(sms, outbound("+380501234566"))
    finally:
        await sms.aclose()


async def test_an_unbind_from_the_smsc_is_answered_and_the_session_rebinds(
    smsc: SmscSimulator, channel: SmsChannel
) -> None:
    await eventually(lambda: smsc.bound_sessions == 1)
    await smsc.unbind_all()
    await eventually(lambda: smsc.binds == 2 and smsc.bound_sessions == 1)
    await sent(channel, outbound("+380501234566"))


@pytest.mark.parametrize(
    ("credentials", "status"),
    [
        ({"password": "wrong"}, "ESME_RINVPASWD"),
        ({"system_id": "nobody"}, "ESME_RINVSYSID"),
    ],
)
async def test_refused_credentials_are_misconfigured_at_once(
    smsc: SmscSimulator, reports: Reports, credentials: dict[str, str], status: str
) -> None:
    sms = make_channel(smsc.port, bind_wait_s=600.0, **credentials)
    await sms.start(reports.sink)
    try:
        # at once, not after bind_wait_s: waiting it out would end in wait_for's TimeoutError
        outcome = await asyncio.wait_for(sms.send(outbound("+380501234566")), 60)
        assert outcome == Misconfigured(f"SMPP_BIND_REJECTED: {status}")
    finally:
        await sms.aclose()
    assert smsc.bind_failures >= 1
    assert smsc.parts == []


async def test_an_smsc_that_is_down_means_retry_and_the_session_comes_back(
    smsc: SmscSimulator, reports: Reports
) -> None:
    port = smsc.port
    await smsc.aclose()
    sms = make_channel(port, bind_wait_s=0.2)
    await sms.start(reports.sink)
    replacement: SmscSimulator | None = None
    try:
        outcome = await sms.send(outbound("+380501234566"))
        assert isinstance(outcome, Retry)
        assert outcome.reason.startswith("SMSC_NOT_BOUND")

        replacement = await create_server("127.0.0.1", port, system_id=SYSTEM_ID, password=PASSWORD)
        await eventually(lambda: sms.session.bound)
        await sent(sms, outbound("+380501234566"))
        assert replacement.count("+380501234566") == 1
    finally:
        await sms.aclose()
        if replacement is not None:
            await replacement.aclose()


async def test_send_before_start_binds_and_receipts_wait_for_the_sink(
    smsc: SmscSimulator, reports: Reports
) -> None:
    smsc.script("+380501234566", QUICK)
    sms = make_channel(smsc.port)
    try:
        result = await sent(sms, outbound("+380501234566"))
        await eventually(lambda: bool(smsc.refused))
        # refused with ESME_RX_T_APPN: no sink yet
        assert [(r.message_id, r.status) for r in smsc.refused][:1] == [
            (result.provider_id, Status.ESME_RX_T_APPN)
        ]
        assert smsc.receipts == []
        await sms.start(reports.sink)
        assert (await reports.wait_for(result.provider_id)).state == "delivered"
    finally:
        await sms.aclose()


# --- the admin API of the simulator, for out-of-process tests -------------------------------------


async def test_the_admin_api_scripts_and_reports(
    smsc: SmscSimulator, paced: tuple[SmsChannel, ManualClock]
) -> None:
    channel, clock = paced
    transport = httpx.ASGITransport(app=create_admin_app(smsc))
    async with httpx.AsyncClient(transport=transport, base_url="http://smsc.test") as admin:
        response = await admin.put(
            "/_sim/script/380501234566", json={"reachable": True, "throttle": True}
        )
        assert response.status_code == 204
        assert isinstance(await channel.send(outbound("+380501234566")), Throttled)

        assert (await admin.delete("/_sim/script")).status_code == 204
        clock.advance(0.25)  # the channel's throttling pause is over
        result = await sent(channel, outbound("+380501234566", "via admin"))
        await eventually(lambda: len(smsc.receipts) == 1)

        received = (await admin.get("/_sim/received")).json()
        assert [(m["phone"], m["text"], m["parts"]) for m in received] == [
            ("+380501234566", "via admin", 1)
        ]
        parts = (await admin.get("/_sim/parts")).json()
        assert [part["message_id"] for part in parts] == [result.provider_id]
        receipts = (await admin.get("/_sim/receipts")).json()
        assert [(r["message_id"], r["stat"]) for r in receipts] == [(result.provider_id, "DELIVRD")]

        assert (await admin.delete("/_sim/received")).status_code == 204
        assert (await admin.get("/_sim/received")).json() == []

        assert (await admin.post("/_sim/disconnect")).status_code == 204
        await eventually(lambda: smsc.binds == 2)


# --- receipts as the session reads them ----------------------------------------------------------


def deliver(
    text: str = "",
    *,
    esm_class: int = 0x04,
    tlvs: dict[int, bytes] | None = None,
    data_coding: int = 0,
) -> Deliver:
    return Deliver(
        source_addr="380501234566",
        source_ton=1,
        source_npi=1,
        destination_addr="Cascade",
        dest_ton=5,
        dest_npi=0,
        esm_class=esm_class,
        data_coding=data_coding,
        short_message=text.encode("latin-1") if data_coding != 8 else text.encode("utf-16-be"),
        tlvs=tlvs or {},
    )


RECEIPT_TEXT = (
    "id:0A1B2C sub:001 dlvrd:001 submit date:2611230455 done date:2611230456 "
    "stat:DELIVRD err:000 text:Your order #12345"
)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (deliver(RECEIPT_TEXT), ("0A1B2C", "DELIVRD", True, None, "Your order #12345")),
        (
            deliver(RECEIPT_TEXT.replace("DELIVRD err:000", "UNDELIV err:034")),
            ("0A1B2C", "UNDELIV", True, "034", "Your order #12345"),
        ),
        (  # TLVs only, no text at all (allowed, and some SMSCs do it)
            deliver(tlvs={pdu.TLV_RECEIPTED_MESSAGE_ID: b"77\x00", pdu.TLV_MESSAGE_STATE: b"\x05"}),
            ("77", "UNDELIV", True, None, ""),
        ),
        (  # the TLVs win over the text
            deliver(
                RECEIPT_TEXT,
                tlvs={pdu.TLV_RECEIPTED_MESSAGE_ID: b"FF01\x00", pdu.TLV_MESSAGE_STATE: b"\x03"},
            ),
            ("FF01", "EXPIRED", True, None, "Your order #12345"),
        ),
        (
            deliver("id:9 stat:DELIVERED err:0"),  # a long-form state word, a one-digit err
            ("9", "DELIVRD", True, None, ""),
        ),
        (  # the message text cannot fake the fields
            deliver("id:5 stat:UNDELIV err:001 text:stat:DELIVRD id:6"),
            ("5", "UNDELIV", True, "001", "stat:DELIVRD id:6"),
        ),
        (deliver("id:5 stat:ENROUTE err:000"), ("5", "ENROUTE", False, None, "")),
        (
            deliver(RECEIPT_TEXT, esm_class=0x20),
            ("0A1B2C", "DELIVRD", False, None, "Your order #12345"),
        ),
        (
            deliver(RECEIPT_TEXT, data_coding=8),
            ("0A1B2C", "DELIVRD", True, None, "Your order #12345"),
        ),
    ],
)
def test_parse_receipt(message: Deliver, expected: tuple[str, str, bool, str | None, str]) -> None:
    receipt = parse_receipt(message)
    assert receipt is not None
    assert (
        receipt.message_id,
        receipt.stat,
        receipt.final,
        receipt.error,
        receipt.text,
    ) == expected
    assert receipt.recipient == "380501234566"


@pytest.mark.parametrize(
    ("text", "fields", "customary"),
    [
        (RECEIPT_TEXT, ("0A1B2C", "DELIVRD", "000", "Your order #12345"), True),
        (
            RECEIPT_TEXT.replace("text:Your order #12345", "text:"),
            ("0A1B2C", "DELIVRD", "000", ""),
            True,
        ),
        (RECEIPT_TEXT.upper(), ("0A1B2C", "DELIVRD", "000", "YOUR ORDER #12345"), True),
        (
            RECEIPT_TEXT + " text:stat:UNDELIV",
            ("0A1B2C", "DELIVRD", "000", "Your order #12345 text:stat:UNDELIV"),
            True,
        ),
        (
            RECEIPT_TEXT + "\nline two",
            ("0A1B2C", "DELIVRD", "000", "Your order #12345\nline two"),
            True,
        ),
        # not the customary layout: read by the general rule, first field of each kind
        ("stat:UNDELIV id:7 err:002 stat:DELIVRD", ("7", "UNDELIV", "002", ""), False),
        (
            "id:a:b sub:001 dlvrd:001 submit date:1 done date:2 stat:DELIVRD err:000 text:x",
            ("a:b", "DELIVRD", "000", "x"),
            False,
        ),
    ],
)
def test_receipt_fields_read_in_one_match_as_the_general_rule_reads_them(
    text: str, fields: tuple[str, str, str | None, str], customary: bool
) -> None:
    # the customary layout really takes the one-match path (else this proves nothing)
    assert (_CANONICAL_RECEIPT.match(text) is not None) is customary
    assert receipt_fields(text) == fields
    assert general_receipt_fields(text) == fields


@pytest.mark.parametrize(
    "message",
    [
        deliver("hello from a phone", esm_class=0x00),  # a mobile-originated message
        deliver("stat:DELIVRD err:000"),  # names no message
    ],
)
def test_parse_receipt_ignores_what_is_no_receipt(message: Deliver) -> None:
    assert parse_receipt(message) is None


# --- a hand-driven SMPP peer, for what the simulator never does ------------------------------


class FakeSmsc:
    """Accepts any bind, answers each submit_sm with `answer(sequence)` (None: silence) and
    records every response the ESME sends."""

    def __init__(self, answer: Callable[[int], bytes | None]) -> None:
        self.answer = answer
        self.responses: list[pdu.Header] = []
        self.writer: asyncio.StreamWriter | None = None
        self.server: asyncio.Server | None = None
        self.handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        self.writer = writer
        try:
            while True:
                message = await pdu.read_pdu(reader)
                got = pdu.header(message)
                if got.command_id == pdu.BIND_TRANSCEIVER:
                    writer.write(pdu.bind_resp(got.command_id, got.sequence, 0, "FAKE"))
                elif got.command_id == pdu.SUBMIT_SM:
                    reply = self.answer(got.sequence)
                    if reply is not None:
                        writer.write(reply)
                elif got.command_id == pdu.UNBIND:
                    writer.write(pdu.encode(pdu.UNBIND | pdu.RESPONSE, got.sequence))
                elif got.is_response:
                    self.responses.append(got)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            self.handlers.discard(task)

    def push(self, data: bytes) -> None:
        assert self.writer is not None
        self.writer.write(data)

    async def aclose(self) -> None:
        assert self.server is not None
        self.server.close()
        for task in list(self.handlers):
            task.cancel()
        await asyncio.gather(*self.handlers, return_exceptions=True)
        await self.server.wait_closed()


@contextlib.asynccontextmanager
async def fake_smsc(
    answer: Callable[[int], bytes | None], reports: Reports, **overrides: Any
) -> AsyncIterator[tuple[FakeSmsc, SmsChannel]]:
    fake = FakeSmsc(answer)
    sms = make_channel(await fake.start(), **overrides)
    await sms.start(reports.sink)
    try:
        await eventually(lambda: sms.session.bound)
        yield fake, sms
    finally:
        await sms.aclose()
        await fake.aclose()


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        (lambda seq: pdu.generic_nack(seq, pdu.ESME_RINVCMDLEN), Failed("ESME_RINVCMDLEN")),
        (lambda seq: pdu.message_id_resp(pdu.SUBMIT_SM, seq, 0x400), Failed("0x00000400")),
        (lambda seq: None, InDoubt("NO_SUBMIT_RESP: NO_RESPONSE")),
    ],
)
async def test_unusual_answers_to_a_submit(
    reports: Reports, answer: Callable[[int], bytes | None], outcome: object
) -> None:
    async with fake_smsc(answer, reports, response_timeout_s=0.2) as (_, sms):
        assert await sms.send(outbound("+380501234566")) == outcome


async def test_a_later_part_that_fails_leaves_the_message_in_doubt(reports: Reports) -> None:
    def answer(sequence: int) -> bytes:
        status = pdu.ESME_ROK if sequence % 2 == 0 else pdu.ESME_RSYSERR
        return pdu.message_id_resp(pdu.SUBMIT_SM, sequence, status, f"id{sequence}")

    async with fake_smsc(answer, reports) as (_, sms):  # bind took sequence 1: parts 2, 3
        outcome = await sms.send(outbound("+380501234566", "a" * 200))
    assert outcome == InDoubt("PARTIAL_SUBMIT: 1/2 parts taken, then ESME_RSYSERR")


async def test_every_deliver_sm_is_answered(reports: Reports) -> None:
    def accept(sequence: int) -> bytes:
        return pdu.message_id_resp(pdu.SUBMIT_SM, sequence, pdu.ESME_ROK, "abc")

    tlv_only = deliver(
        tlvs={pdu.TLV_RECEIPTED_MESSAGE_ID: b"abc\x00", pdu.TLV_MESSAGE_STATE: b"\x02"}
    )
    async with fake_smsc(accept, reports) as (fake, sms):
        fake.push(tlv_only.encode(101))
        fake.push(deliver("hi there", esm_class=0x00).encode(102))  # an MO message
        fake.push(deliver("id:abc stat:ACCEPTD err:000").encode(103))  # not final
        fake.push(pdu.encode(pdu.DELIVER_SM, 104, body=b"\x00\x01"))  # undecodable
        fake.push(pdu.encode(pdu.ENQUIRE_LINK, 105))
        fake.push(pdu.encode(0x00000103, 106))  # data_sm: not spoken here
        await eventually(lambda: len(fake.responses) == 6)
        answers = {got.sequence: (got.command_id, got.status) for got in fake.responses}
        assert answers[101] == (pdu.DELIVER_SM | pdu.RESPONSE, pdu.ESME_ROK)
        assert answers[102] == (pdu.DELIVER_SM | pdu.RESPONSE, pdu.ESME_ROK)
        assert answers[103] == (pdu.DELIVER_SM | pdu.RESPONSE, pdu.ESME_ROK)
        assert answers[104][0] == pdu.DELIVER_SM | pdu.RESPONSE
        assert answers[104][1] != pdu.ESME_ROK
        assert answers[105] == (pdu.ENQUIRE_LINK | pdu.RESPONSE, pdu.ESME_ROK)
        assert answers[106] == (pdu.GENERIC_NACK, pdu.ESME_RINVCMDID)
        assert sms.session.bound
    # the final receipt and the message from the phone, each once
    report, written = reports.events
    assert isinstance(report, DeliveryReport)
    assert (report.channel, report.provider_id, report.state) == ("sms", "abc", "delivered")
    assert isinstance(written, InboundMessage)
    assert (written.phone, written.to, written.text, written.part) == (
        "+380501234566",
        "Cascade",
        "hi there",
        None,
    )


def test_the_password_stays_out_of_the_session_repr() -> None:
    sms = make_channel(2775)
    assert PASSWORD not in repr(sms.session.config)


@pytest.mark.parametrize(
    "credentials",
    [{"password": "longer than 8"}, {"password": "pässwd"}, {"system_id": "a-system-id-of-16"}],
)
def test_credentials_beyond_the_smpp_field_sizes_fail_at_construction(
    credentials: dict[str, str],
) -> None:
    with pytest.raises(ValueError, match="C-octet string") as raised:
        make_channel(2775, **credentials)
    assert next(iter(credentials.values())) not in str(raised.value)


class _RecordingWriter:
    """A StreamWriter's surface as the session's link uses it, recording each write."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


async def test_pdus_written_in_one_turn_of_the_loop_reach_the_socket_as_one_write() -> None:
    from cascade.channels.sms.session import _Link

    writer = _RecordingWriter()
    link = _Link(asyncio.StreamReader(), writer)  # type: ignore[arg-type]
    assert [link.write(data) for data in (b"one", b"two", b"three")] == [True] * 3
    assert writer.writes == []  # not before the turn ends
    await asyncio.sleep(0)
    assert writer.writes == [b"onetwothree"]  # in order, one write
    link.write(b"last")
    link.end()  # closing sends what was written first
    assert writer.writes == [b"onetwothree", b"last"]
    assert writer.closed
    assert not link.write(b"after")


# --- departure: a send behind a full window has not left --------------------------------------


async def test_a_send_departs_only_when_its_submit_holds_a_window_slot(
    smsc: SmscSimulator, reports: Reports
) -> None:
    """`send_when` calls `depart` right before the PDU is written: a send queued behind a
    full window has not departed (a crash then leaves it unsent, not in doubt)."""
    smsc.submit_delay_ms = 300
    sms = make_channel(smsc.port, window=1)
    await sms.start(reports.sink)
    departed: list[str] = []
    first_departed = asyncio.Event()

    def departing(text: str) -> Callable[[], Awaitable[bool]]:
        async def depart() -> bool:
            departed.append(text)
            first_departed.set()
            return True

        return depart

    try:
        first = asyncio.create_task(
            sms.send_when(outbound("+380501234566", "first"), departing("first"))
        )
        await first_departed.wait()
        second = asyncio.create_task(
            sms.send_when(outbound("+380501234566", "second"), departing("second"))
        )
        await eventually(lambda: len(smsc.received) == 1)
        assert departed == ["first"]  # the second waits for the slot, not departed
        assert isinstance(await first, Sent)
        assert isinstance(await second, Sent)
        assert departed == ["first", "second"]
    finally:
        await sms.aclose()


async def test_a_send_whose_intent_was_not_stored_is_not_written(
    smsc: SmscSimulator, channel: SmsChannel
) -> None:
    async def refused() -> bool:
        return False

    outcome = await channel.send_when(outbound("+380501234566", "never"), refused)
    assert outcome == Retry("INTENT_NOT_STORED")
    assert smsc.received == []


# --- the bench's own checks can fail -----------------------------------------------------------


@pytest.mark.parametrize(
    ("bench", "case", "complaint"),
    [
        (
            {},
            send(
                "unused script",
                outbound(PHONE),
                ONE_PART,
                one(),
                Submit("+380501234561", QUICK, ()),
            ),
            "asked about",
        ),
        (
            {},
            send("other part", outbound(PHONE), ONE_PART, one(source_addr="Other")),
            "source_addr is",
        ),
        (
            {},
            send(
                "other report",
                outbound(PHONE),
                ONE_PART,
                Submit(PHONE, QUICK, report=("failed", None)),
            ),
            "reported",
        ),
        (
            {"secrets": ("127.0.0.1",)},
            send("logged", outbound(PHONE), ONE_PART, one()),
            "a secret was logged",
        ),
    ],
    ids=["unused-script", "part", "report", "secret"],
)
async def test_the_bench_refuses_a_row_that_differs(
    smsc: SmscSimulator, bench: dict[str, Any], case: SmsCase, complaint: str
) -> None:
    with pytest.raises(AssertionError, match=complaint):
        await cases.run_send(SmscBench(smsc, **bench), case)
