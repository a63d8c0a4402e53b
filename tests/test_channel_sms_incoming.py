"""Messages people send to the SMS sender (SPEC D7): a mobile-originated `deliver_sm` read
as the SMPP session reads it (a table of PDUs), then through the SMSC simulator on
loopback into the store, pieces joined in order before anything is stored as a message."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest

from cascade.channels.sms import MobileOriginated, SmsChannel, parse_mobile_originated, pdu
from cascade.channels.sms.pdu import Deliver
from cascade.clock import ManualClock
from cascade.domain.events import Event, MessagePart
from cascade.engine.inbound import apply_events
from cascade.simulators.smsc import SmscSimulator, create_server
from cascade.store import schema as t
from cascade.store.memory import MemoryStore
from tests.test_channel_sms import PASSWORD, SYSTEM_ID, eventually, make_channel

PHONE = "+380671112233"
NUMBER = "380500000000"  # our numeric sender: where people write to


def mo(
    short_message: bytes,
    *,
    esm_class: int = 0x00,
    data_coding: int = 0x00,
    tlvs: dict[int, bytes] | None = None,
) -> Deliver:
    """A deliver_sm from the phone to our number, its fields as an SMSC sends them."""
    return Deliver(
        source_addr=PHONE.removeprefix("+"),
        source_ton=1,
        source_npi=1,
        destination_addr=NUMBER,
        dest_ton=1,
        dest_npi=1,
        esm_class=esm_class,
        data_coding=data_coding,
        short_message=short_message,
        tlvs=tlvs or {},
    )


def read(text: str, part: tuple[int, int, int] | None = None) -> MobileOriginated:
    return MobileOriginated(
        PHONE.removeprefix("+"), NUMBER, text, MessagePart(*part) if part else None
    )


# The octets are written out by hand: GSM-7 unpacked ('@' is 0x00, '£' 0x01, ESC 0x1B
# then 0x65 is '€'), UCS-2 big-endian, Latin-1; headers per 3GPP TS 23.040.
CASES: list[tuple[str, Deliver, MobileOriginated | None]] = [
    ("gsm7", mo(b"Hi \x00 \x01 \x1b\x65"), read("Hi @ £ €")),
    ("ucs2", mo("Привіт".encode("utf-16-be"), data_coding=0x08), read("Привіт")),
    ("ucs2-nul", mo("a\x00b".encode("utf-16-be"), data_coding=0x08), read("a\x00b")),
    ("latin1", mo("Grüße".encode("latin-1"), data_coding=0x03), read("Grüße")),
    ("ia5", mo(b"plain", data_coding=0x01), read("plain")),
    (
        "udh 8-bit reference",
        mo(b"\x05\x00\x03\x42\x03\x02middle", esm_class=0x40),
        read("middle", (0x42, 3, 2)),
    ),
    (
        "udh 16-bit reference",
        mo(b"\x06\x08\x04\x12\x34\x02\x01" + "Добрий ".encode("utf-16-be"), esm_class=0x40,
           data_coding=0x08),
        read("Добрий ", (0x1234, 2, 1)),
    ),
    (
        "udh after another element",
        mo(b"\x0a\x24\x03\x01\x02\x03\x00\x03\x07\x02\x02end", esm_class=0x40),
        read("end", (7, 2, 2)),
    ),
    (
        "sar parameters",
        mo(
            b"second half",
            tlvs={
                pdu.TLV_SAR_MSG_REF_NUM: b"\x01\x02",
                pdu.TLV_SAR_TOTAL_SEGMENTS: b"\x02",
                pdu.TLV_SAR_SEGMENT_SEQNUM: b"\x02",
            },
        ),
        read("second half", (0x0102, 2, 2)),
    ),
    (
        "message_payload",
        mo(b"", tlvs={pdu.TLV_MESSAGE_PAYLOAD: "Довгий текст".encode("utf-16-be")},
           data_coding=0x08),
        read("Довгий текст"),
    ),
    # a piece numbered outside 1..total, or a whole "1 of 1", is read as a whole message
    ("udh piece 0", mo(b"\x05\x00\x03\x01\x02\x00zero", esm_class=0x40), read("zero")),
    ("udh piece 3 of 2", mo(b"\x05\x00\x03\x01\x02\x03over", esm_class=0x40), read("over")),
    ("udh 1 of 1", mo(b"\x05\x00\x03\x01\x01\x01alone", esm_class=0x40), read("alone")),
    # a header longer than the message: the octets are all the text there is (0x09 is Ç)
    ("broken udh", mo(b"\x09\x00\x03", esm_class=0x40), read("Ç@¥")),
    # what is no message from a phone
    ("receipt", mo(b"id:1 stat:DELIVRD", esm_class=0x04), None),
    ("sme delivery ack", mo(b"ack", esm_class=0x08), None),
    ("sme manual ack", mo(b"ack", esm_class=0x10), None),
    ("intermediate", mo(b"id:1 stat:ENROUTE", esm_class=0x20), None),
]  # fmt: skip


@pytest.mark.parametrize(("deliver", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_message_from_a_phone_is_read_per_its_coding_and_piece(
    deliver: Deliver, expected: MobileOriginated | None
) -> None:
    assert parse_mobile_originated(deliver) == expected


def test_a_receipt_is_not_read_as_a_message_after_going_through_the_wire() -> None:
    receipt = mo(b"id:1 stat:DELIVRD err:000", esm_class=0x04)
    assert parse_mobile_originated(pdu.decode_deliver(receipt.encode(7))) is None
    back = pdu.decode_deliver(mo(b"\x05\x00\x03\x09\x02\x01one", esm_class=0x40).encode(8))
    assert parse_mobile_originated(back) == read("one", (9, 2, 1))


# --- through the SMSC simulator, into the store ------------------------------------------------


class Stored:
    """The engine's side of the session: events applied to a store, as `cascade worker`
    does; can be told to fail (the database down) a number of times first."""

    def __init__(self) -> None:
        self.clock = ManualClock()
        self.store = MemoryStore(self.clock)
        self.events: list[Event] = []
        self.failures = 0

    async def sink(self, events: Sequence[Event]) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("database unavailable")
        self.events.extend(events)
        await apply_events(self.store, events)

    def texts(self) -> list[str]:
        return [row["text"] for row in self.store.rows(t.incoming_messages.name)]


@pytest.fixture
async def smsc() -> AsyncIterator[SmscSimulator]:
    simulator = await create_server("127.0.0.1", 0, system_id=SYSTEM_ID, password=PASSWORD)
    simulator.receipt_retry_s = 0.05
    yield simulator
    await simulator.aclose()


@pytest.fixture
async def bound(smsc: SmscSimulator) -> AsyncIterator[tuple[SmsChannel, Stored]]:
    stored = Stored()
    await stored.store.create_account("numbered", NUMBER)
    sms = make_channel(smsc.port, clock=stored.clock)  # dates what it reads by the store's
    await sms.start(stored.sink)
    await eventually(lambda: sms.session.bound)
    yield sms, stored
    await sms.aclose()


LONG_LATIN = "Dear shop, the parcel came without the charger I ordered. " * 5  # 295 chars
LONG_CYRILLIC = "Посилка прийшла без зарядного пристрою, який я замовляв. 🙂 " * 3


@pytest.mark.parametrize(
    ("text", "coding", "concatenation", "order"),
    [
        (LONG_LATIN, "gsm7", "udh8", [2, 1]),
        ("a" * 151 + "€ and {braces}", "gsm7", "udh16", [2, 1]),  # the escape moves on whole
        (LONG_CYRILLIC, "ucs2", "udh8", [3, 1, 2]),
        (LONG_CYRILLIC, "ucs2", "sar", [2, 3, 1]),
        ("Grüße aus Köln! " * 12, "latin1", "sar", [2, 1]),
    ],
    ids=["gsm7-udh8", "gsm7-udh16-extension", "ucs2-udh8-emoji", "ucs2-sar", "latin1-sar"],
)
async def test_pieces_arriving_in_any_order_are_stored_joined_in_order(
    smsc: SmscSimulator,
    bound: tuple[SmsChannel, Stored],
    text: str,
    coding: str,
    concatenation: str,
    order: list[int],
) -> None:
    _, stored = bound
    written = smsc.send_mo(PHONE, NUMBER, text, coding=coding, concatenation=concatenation,  # type: ignore[arg-type]
                           pieces=order)  # fmt: skip
    assert len(written.cuts) == len(order)
    await eventually(lambda: len(smsc.mo_taken) == len(order))
    assert stored.texts() == [text]
    [row] = stored.store.rows(t.incoming_messages.name)
    assert (row["phone"], row["to_address"], row["parts"], row["parts_expected"]) == (
        PHONE,
        NUMBER,
        len(order),
        len(order),
    )
    assert row["account_id"] is not None  # the account whose sender is the number
    # the pieces are kept, joined into the message, for the repeat window
    assert {p["incoming_id"] for p in stored.store.rows(t.incoming_parts.name)} == {row["id"]}


async def test_a_single_message_is_stored_at_once(
    smsc: SmscSimulator, bound: tuple[SmsChannel, Stored]
) -> None:
    _, stored = bound
    smsc.send_mo(PHONE, "+" + NUMBER, "STOP")
    await eventually(lambda: len(smsc.mo_taken) == 1)
    assert stored.texts() == ["STOP"]


async def test_a_nul_a_phone_sent_is_stored_as_the_replacement_character(
    smsc: SmscSimulator, bound: tuple[SmsChannel, Stored]
) -> None:
    """U+0000 can be written in UCS-2; PostgreSQL's text cannot hold it (test_inbound_nul)."""
    _, stored = bound
    smsc.send_mo(PHONE, NUMBER, "a\x00b", coding="ucs2")
    await eventually(lambda: len(smsc.mo_taken) == 1)
    assert stored.texts() == ["a\ufffdb"]


async def test_a_piece_that_never_comes_leaves_the_others_kept_then_stored_as_they_are(
    smsc: SmscSimulator, bound: tuple[SmsChannel, Stored]
) -> None:
    _, stored = bound
    smsc.send_mo(PHONE, NUMBER, LONG_LATIN, pieces=[1])  # the second piece is lost
    await eventually(lambda: len(smsc.mo_taken) == 1)  # acknowledged: it is kept
    assert stored.texts() == []
    [kept] = stored.store.rows(t.incoming_parts.name)
    assert kept["number"] == 1
    stored.clock.advance(600)
    [flushed] = await stored.store.flush_incoming_parts(stored.clock.now_ms() - 600_000)
    assert (flushed.parts, flushed.parts_expected) == (1, 2)
    assert stored.texts() == [LONG_LATIN[:153]]


async def test_a_message_the_engine_could_not_store_is_offered_again_and_stored_once(
    smsc: SmscSimulator, bound: tuple[SmsChannel, Stored]
) -> None:
    _, stored = bound
    stored.failures = 1
    smsc.send_mo(PHONE, NUMBER, "Call me back")
    await eventually(lambda: len(smsc.mo_taken) == 1)
    assert smsc.mo_taken[0].attempts == 2  # refused with ESME_RX_T_APPN, then taken
    assert stored.texts() == ["Call me back"]


async def test_a_message_the_smsc_offers_again_is_stored_once(
    smsc: SmscSimulator, bound: tuple[SmsChannel, Stored]
) -> None:
    """A deliver_sm has no id (SMPP 3.4): one offered again — its answer lost in a crash —
    is known by its phone, address and text (and a piece by its reference and number)."""
    _, stored = bound
    smsc.send_mo(PHONE, NUMBER, "Call me back")
    smsc.send_mo(PHONE, NUMBER, "Call me back")
    written = smsc.send_mo(PHONE, NUMBER, LONG_LATIN, pieces=[1, 2])
    smsc.send_mo(PHONE, NUMBER, LONG_LATIN, pieces=[2], reference=written.reference)
    await eventually(lambda: len(smsc.mo_taken) == 5)
    assert sorted(stored.texts()) == sorted(["Call me back", LONG_LATIN])
    # the piece offered again waits for nothing: no message in pieces is stored later
    assert await stored.store.flush_incoming_parts(stored.clock.now_ms()) == []
    assert sorted(stored.texts()) == sorted(["Call me back", LONG_LATIN])
