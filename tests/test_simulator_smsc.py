"""The SMSC simulator reads short messages on its own, as a handset would.

Its input is built here by hand (octets written from 3GPP TS 23.038 and 23.040) or by the
third-party `smpp34` library, never by the product's encoder: a test that encoded with
the product's codec and decoded with the simulator's could not tell a bug in that codec
from the truth. The last tests bind `smpp34`'s own ESME to the simulator.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator

import pytest
import smpp34

from cascade.simulators.script import Behaviour
from cascade.simulators.smsc import SmscSimulator, create_server, handset
from cascade.simulators.smsc.pdus import mobile_originated
from cascade.simulators.smsc.records import Piece
from cascade.simulators.smsc.text import (
    DEFAULT_ALPHABET,
    Part,
    decode,
    decode_default_alphabet,
    encode_default_alphabet,
    split_user_data,
)

PHONE = "380501234566"
QUICK = Behaviour(reachable=True, deliver_after_ms=0)

# --- the text, octet by octet -----------------------------------------------------------------

# 23.038 §6.2.1 at a few places where it differs from ASCII, and §6.2.1.1 through ESC (0x1B)
SPOT_CHECKS = [
    (0x00, "@"),
    (0x01, "£"),
    (0x02, "$"),
    (0x0A, "\n"),
    (0x10, "Δ"),
    (0x1F, "É"),
    (0x24, "¤"),
    (0x40, "¡"),
    (0x5B, "Ä"),
    (0x60, "¿"),
    (0x7F, "à"),
    (0x41, "A"),
    (0x7A, "z"),
]


@pytest.mark.parametrize(("code", "char"), SPOT_CHECKS)
def test_the_default_alphabet_is_23038s(code: int, char: str) -> None:
    assert DEFAULT_ALPHABET[code] == char
    assert decode_default_alphabet(bytes((code,))) == char


def test_gsm7_with_extension_characters() -> None:
    # "Price: 5€ {ok} [x] ~|^\" in unpacked septets, each extension character as ESC + code
    octets = (
        b"Price: 5\x1b\x65 \x1b\x28ok\x1b\x29 \x1b\x3cx\x1b\x3e \x1b\x3d\x1b\x40\x1b\x14\x1b\x2f"
    )
    assert decode(octets, 0x00) == "Price: 5€ {ok} [x] ~|^\\"
    assert encode_default_alphabet("Price: 5€ {ok} [x] ~|^\\") == octets


def test_gsm7_basic_characters_that_ascii_puts_elsewhere() -> None:
    # Ü ñ @ £ $ ¥ are 5E 7D 00 01 02 03 in the default alphabet; ï is in neither table
    assert decode(b"\x5e\x7d\x00\x01\x02\x03", 0x00) == "Üñ@£$¥"
    assert encode_default_alphabet("Üñ@£$¥") == b"\x5e\x7d\x00\x01\x02\x03"
    assert encode_default_alphabet("ï") is None  # not in either table: goes as UCS-2


def test_an_escape_without_its_character_reads_as_23038_says() -> None:
    assert decode_default_alphabet(b"a\x1b\x41b") == "aAb"  # unknown extension: the basic one
    assert decode_default_alphabet(b"a\x1b\x1bb") == "a b"  # ESC ESC: a space
    assert decode_default_alphabet(b"ab\x1b") == "ab "  # a dangling escape: a space
    assert decode_default_alphabet(b"a\x80") == "a\ufffd"  # no septet is above 0x7F


def test_ucs2_latin1_and_message_class_codings() -> None:
    assert decode("Привіт 👋".encode("utf-16-be"), 0x08) == "Привіт 👋"
    assert decode(b"caf\xe9", 0x03) == "café"
    assert decode(b"\x48\x49", 0xF1) == "HI"  # 0xF0-0xF3: a message class, default alphabet


def test_the_concatenation_header_with_an_8bit_and_a_16bit_reference() -> None:
    assert split_user_data(b"\x05\x00\x03\x2a\x03\x02tail") == (Part(0x2A, 3, 2), b"tail")
    assert split_user_data(b"\x06\x08\x04\x12\x34\x02\x01tail") == (Part(0x1234, 2, 1), b"tail")


def test_other_header_elements_are_skipped_and_a_bad_part_ignored() -> None:
    # a port-addressing element (0x05, 4 octets) before the concatenation element
    header = b"\x0b\x05\x04\x0b\x84\x23\xf0\x00\x03\x07\x02\x01"
    assert split_user_data(header + b"x") == (Part(7, 2, 1), b"x")
    assert split_user_data(b"\x05\x00\x03\x07\x02\x03x") == (None, b"x")  # part 3 of 2
    assert split_user_data(b"\x05\x00\x03\x07\x00\x00x") == (None, b"x")  # no parts at all
    with pytest.raises(ValueError, match="runs past"):
        split_user_data(b"\x09\x00\x03\x07")


# --- the simulator over SMPP, fed PDUs built by hand and by smpp34 ----------------------------


@pytest.fixture
async def smsc() -> AsyncIterator[SmscSimulator]:
    simulator = await create_server("127.0.0.1", 0)
    simulator.script("+" + PHONE, QUICK)
    yield simulator
    await simulator.aclose()


class Esme:
    """A minimal ESME written for these tests: PDUs by hand, submit_sm by smpp34."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.sequence = 0

    async def read(self) -> tuple[int, int, int, bytes]:
        head = await asyncio.wait_for(self.reader.readexactly(16), timeout=30)
        length, command_id, status, sequence = struct.unpack("!IIII", head)
        body = await asyncio.wait_for(self.reader.readexactly(length - 16), timeout=30)
        return command_id, status, sequence, body

    async def bind(self) -> int:
        self.sequence += 1
        body = b"cascade\x00secret\x00\x00\x34\x00\x00\x00"
        self.writer.write(struct.pack("!IIII", 16 + len(body), 0x09, 0, self.sequence) + body)
        command_id, status, _, _ = await self.read()
        assert command_id == 0x80000009
        return status

    async def submit(self, short_message: bytes, *, data_coding: int, esm_class: int = 0) -> str:
        self.sequence += 1
        pdu = smpp34.SubmitSm(
            "Cascade",
            PHONE,
            short_message,
            source_addr_ton=5,
            dest_addr_ton=1,
            dest_addr_npi=1,
            esm_class=esm_class,
            data_coding=data_coding,
            registered_delivery=0,
            sequence_number=self.sequence,
        ).encode()
        self.writer.write(pdu)
        command_id, status, sequence, body = await self.read()
        assert (command_id, status, sequence) == (0x80000004, 0, self.sequence)
        return body.rstrip(b"\x00").decode()


@pytest.fixture
async def esme(smsc: SmscSimulator) -> AsyncIterator[Esme]:
    reader, writer = await asyncio.open_connection("127.0.0.1", smsc.port)
    client = Esme(reader, writer)
    assert await client.bind() == 0
    yield client
    writer.close()


async def test_a_gsm7_message_with_extension_characters(smsc: SmscSimulator, esme: Esme) -> None:
    await esme.submit(b"Total: 10\x1b\x65 \x1b\x28paid\x1b\x29", data_coding=0x00)
    assert [part.text for part in smsc.parts] == ["Total: 10€ {paid}"]
    assert smsc.count("+" + PHONE, "Total: 10€ {paid}") == 1


async def test_a_ucs2_message(smsc: SmscSimulator, esme: Esme) -> None:
    await esme.submit("Дякуємо! ✓".encode("utf-16-be"), data_coding=0x08)
    assert [message.text for message in smsc.received] == ["Дякуємо! ✓"]


async def test_concatenated_parts_out_of_order_make_one_message(
    smsc: SmscSimulator, esme: Esme
) -> None:
    pieces = [b"first, ", b"second, ", b"third"]
    ids = {}
    for number in (3, 1, 2):  # a real SMSC may take the parts in any order
        udh = bytes((0x05, 0x00, 0x03, 0x9C, 3, number))
        ids[number] = await esme.submit(udh + pieces[number - 1], data_coding=0x00, esm_class=0x40)
    assert [(p.reference, p.total, p.sequence, p.text) for p in smsc.parts] == [
        (0x9C, 3, 3, "third"),
        (0x9C, 3, 1, "first, "),
        (0x9C, 3, 2, "second, "),
    ]
    (message,) = smsc.received
    assert (message.text, message.parts) == ("first, second, third", 3)
    assert message.message_ids == [ids[1], ids[2], ids[3]]


async def test_a_character_split_between_parts_reads_whole(smsc: SmscSimulator, esme: Esme) -> None:
    # "ok 👋" in UTF-16: the emoji's surrogate pair cut between part 1 and part 2 (a 16-bit
    # reference this time), and a GSM-7 escape cut from its code the same way
    wave = "ok 👋".encode("utf-16-be")
    for number, octets in ((1, wave[:8]), (2, wave[8:])):
        udh = bytes((0x06, 0x08, 0x04, 0x01, 0x02, 2, number))
        await esme.submit(udh + octets, data_coding=0x08, esm_class=0x40)
    for number, octets in ((1, b"5\x1b"), (2, b"\x65 off")):
        udh = bytes((0x05, 0x00, 0x03, 0x33, 2, number))
        await esme.submit(udh + octets, data_coding=0x00, esm_class=0x40)
    assert [message.text for message in smsc.received] == ["ok 👋", "5€ off"]


async def test_a_broken_header_leaves_the_octets_as_text(smsc: SmscSimulator, esme: Esme) -> None:
    await esme.submit(b"\x09\x00\x03hi", data_coding=0x03, esm_class=0x40)
    (part,) = smsc.parts
    assert (part.reference, part.total, part.text) == (None, 1, "\x09\x00\x03hi")


# --- a third-party ESME ------------------------------------------------------------------------


async def test_smpp34s_esme_binds_submits_and_gets_a_receipt(smsc: SmscSimulator) -> None:
    client = smpp34.Client("127.0.0.1", smsc.port, "cascade", "secret", bind_type="TRX")
    session = await client.connect()
    try:
        answer = await session.submit_sm(
            PHONE,
            "Код: 1234".encode("utf-16-be"),
            source_addr="Cascade",
            source_addr_ton=5,
            data_coding=0x08,
            registered_delivery=1,
        )
        assert answer.command_status == 0
        receipt = await asyncio.wait_for(session.next(), timeout=30)
    finally:
        await session.unbind()
        await client.stop()
    assert isinstance(receipt, smpp34.DeliverSmEvent)
    assert (receipt.esm_class, receipt.source_addr, receipt.destination_addr) == (
        0x04,
        PHONE,
        "Cascade",
    )
    tlvs = {tlv.tag: tlv.value for tlv in receipt.tlvs}
    assert tlvs[smpp34.TLV_RECEIPTED_MESSAGE_ID] == answer.message_id.encode() + b"\x00"
    assert tlvs[smpp34.TLV_MESSAGE_STATE] == b"\x02"  # DELIVERED
    # the message text is not GSM-7, so the receipt that quotes it goes as UCS-2
    assert receipt.data_coding == 0x08
    words = receipt.short_message.decode("utf-16-be")
    assert words.startswith(f"id:{answer.message_id} sub:001 dlvrd:001 submit date:")
    assert words.endswith(" stat:DELIVRD err:000 text:Код: 1234")
    assert smsc.received[0].text == "Код: 1234"
    assert [r.message_id for r in smsc.receipts] == [answer.message_id]


async def test_a_receipt_quoting_gsm7_text_goes_in_the_default_alphabet(
    smsc: SmscSimulator,
) -> None:
    client = smpp34.Client("127.0.0.1", smsc.port, "cascade", "secret", bind_type="TRX")
    session = await client.connect()
    try:
        answer = await session.submit_sm(
            PHONE, b"Pay 5\x1b\x65 now", source_addr="Cascade", registered_delivery=1
        )
        receipt = await asyncio.wait_for(session.next(), timeout=30)
    finally:
        await session.unbind()
        await client.stop()
    assert isinstance(receipt, smpp34.DeliverSmEvent)
    assert receipt.data_coding == 0x00
    assert receipt.short_message.startswith(f"id:{answer.message_id} ".encode())
    assert receipt.short_message.endswith(b" stat:DELIVRD err:000 text:Pay 5\x1b\x65 now")


# --- a phone writing to an address: the pieces a handset sends ----------------------------------


def test_a_long_gsm7_message_goes_in_pieces_with_a_16_bit_reference_header() -> None:
    text = "a" * 151 + "€" + "b" * 10  # the escape would end the first piece: it moves on
    written = handset.write(text, "gsm7", "udh16", reference=0x1234)
    first, second = written.cuts
    assert first.short_message[:7] == bytes((6, 0x08, 4, 0x12, 0x34, 2, 1))
    assert second.short_message[:7] == bytes((6, 0x08, 4, 0x12, 0x34, 2, 2))
    assert first.octets == b"a" * 151  # 152 septets fit; the escape goes with its code
    assert second.octets == b"\x1b\x65" + b"b" * 10
    assert first.esm_class == second.esm_class == 0x40
    assert decode_default_alphabet(first.octets + second.octets) == text


def test_a_ucs2_piece_never_ends_inside_a_surrogate_pair() -> None:
    text = "я" * 66 + "🙂" + "ж" * 5  # 66 units, then a pair across the 67-unit boundary
    written = handset.write(text, None, "udh8", reference=7)
    assert written.coding == "ucs2"
    first, second = written.cuts
    assert first.short_message[:6] == bytes((5, 0x00, 3, 7, 2, 1))
    assert len(first.octets) == 132  # 66 units: the pair moved on whole
    assert (first.octets + second.octets).decode("utf-16-be") == text


def test_sar_pieces_carry_no_header_and_name_themselves_in_tlvs() -> None:
    written = handset.write("Grüße " * 30, "latin1", "sar", reference=0x0102)
    assert [len(cut.octets) for cut in written.cuts] == [140, 40]
    for cut in written.cuts:
        assert cut.esm_class == 0x00
        assert cut.short_message == cut.octets
        assert dict(cut.tlvs) == {
            0x020C: b"\x01\x02",
            0x020E: bytes((2,)),
            0x020F: bytes((cut.number,)),
        }


def test_a_short_message_goes_whole() -> None:
    written = handset.write("STOP")
    assert (written.coding, written.reference) == ("gsm7", None)
    [cut] = written.cuts
    assert (cut.short_message, cut.esm_class, cut.tlvs) == (b"STOP", 0x00, ())


def test_the_deliver_sm_of_a_piece_reads_back_through_smpp34() -> None:
    written = handset.write("Привіт! " * 20, "ucs2", "udh8", reference=9)
    cut = written.cuts[1]
    piece = Piece(
        system_id="cascade",
        phone="+" + PHONE,
        source_addr=PHONE,
        destination_addr="380500000000",
        dest_ton=1,
        dest_npi=1,
        esm_class=cut.esm_class,
        data_coding=written.data_coding,
        short_message=cut.short_message,
        tlvs=cut.tlvs,
        text="",
        reference=9,
        total=len(written.cuts),
        number=cut.number,
    )
    decoded = smpp34.decode(mobile_originated(77, piece))
    assert isinstance(decoded, smpp34.DeliverSm)
    assert (decoded.sequence_number, decoded.source_addr, decoded.destination_addr) == (
        77,
        PHONE,
        "380500000000",
    )
    assert (decoded.esm_class, decoded.data_coding) == (0x40, 0x08)
    assert decoded.short_message == cut.short_message


def test_text_a_coding_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="GSM 7-bit"):
        handset.write("Привіт", "gsm7")
    with pytest.raises(ValueError, match="Latin-1"):
        handset.write("Привіт", "latin1")


async def test_the_admin_api_lets_a_phone_write_and_refuses_what_no_phone_sends() -> None:
    import httpx

    from cascade.simulators.smsc import create_admin_app

    simulator = await create_server("127.0.0.1", 0)
    transport = httpx.ASGITransport(app=create_admin_app(simulator))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://sim") as admin:
            ok = await admin.post(
                "/_sim/mo",
                json={"from": "+" + PHONE, "to": "380500000000", "text": "x" * 200,
                      "concatenation": "sar", "pieces": [2]},
            )  # fmt: skip
            assert ok.status_code == 200, ok.text
            assert (ok.json()["total"], ok.json()["pieces"], ok.json()["coding"]) == (
                2,
                [2],
                "gsm7",
            )
            for wrong in (
                {"from": "nobody", "to": "1", "text": "hi"},
                {"from": "+" + PHONE, "to": " ", "text": "hi"},
                {"from": "+" + PHONE, "to": "1", "text": ""},
                {"from": "+" + PHONE, "to": "1", "text": "Привіт", "coding": "gsm7"},
                {"from": "+" + PHONE, "to": "1", "text": "hi", "pieces": [2]},
                {"from": "+" + PHONE, "to": "1", "text": "hi", "concatenation": "udh32"},
            ):
                refused = await admin.post("/_sim/mo", json=wrong)
                assert refused.status_code == 400, (wrong, refused.text)
    finally:
        await simulator.aclose()
