"""SMPP framing: PDUs cut from a stream however it arrives, and a stream that cannot be
framed refused, by the splitter and by the SMSC simulator that reads through it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from cascade.channels.sms import pdu
from cascade.simulators.smsc import SmscSimulator, create_server

ENQUIRE = [pdu.encode(pdu.ENQUIRE_LINK, n) for n in (1, 2, 3)]
WITH_BODY = pdu.encode(pdu.UNBIND, 4, body=b"x" * 40)  # a length beyond the header
STREAM = b"".join([*ENQUIRE, WITH_BODY])


def _pieces(data: bytes, size: int) -> list[bytes]:
    return [data[at : at + size] for at in range(0, len(data), size)]


@pytest.mark.parametrize(
    "pieces",
    [
        pytest.param([STREAM], id="all at once"),
        pytest.param(_pieces(STREAM, 1), id="byte by byte"),
        pytest.param(_pieces(STREAM, 7), id="cut inside headers"),
        pytest.param(_pieces(STREAM, 16), id="header-sized"),
        pytest.param(_pieces(STREAM, 23), id="cut inside bodies"),
        pytest.param([STREAM[:5], STREAM[5:]], id="cut inside the first length"),
    ],
)
def test_the_splitter_gives_each_pdu_whole_and_in_order(pieces: list[bytes]) -> None:
    splitter = pdu.PduSplitter()
    got = [one for piece in pieces for one in splitter.feed(piece)]
    assert got == [*ENQUIRE, WITH_BODY]


@pytest.mark.parametrize("length", [0, pdu.HEADER_SIZE - 1, pdu.MAX_PDU + 1, 0xFFFFFFFF])
def test_an_impossible_length_is_refused_after_the_pdus_before_it(length: int) -> None:
    bad = length.to_bytes(4, "big") + bytes(12)
    got: list[bytes] = []
    with pytest.raises(pdu.FramingError, match=f"command_length {length}"):
        got.extend(pdu.PduSplitter().feed(ENQUIRE[0] + bad))
    assert got == [ENQUIRE[0]]


def test_an_unfinished_pdu_waits_for_the_rest() -> None:
    splitter = pdu.PduSplitter()
    assert list(splitter.feed(WITH_BODY[:-1])) == []
    assert list(splitter.feed(WITH_BODY[-1:] + ENQUIRE[0])) == [WITH_BODY, ENQUIRE[0]]


# --- the simulator reads through the splitter ---------------------------------------------


@pytest.fixture
async def smsc() -> AsyncIterator[SmscSimulator]:
    simulator = await create_server("127.0.0.1", 0)
    yield simulator
    await simulator.aclose()


async def answer(reader: asyncio.StreamReader) -> pdu.Header:
    """The simulator's next PDU's header; a silent simulator fails the test, not hangs it."""
    return pdu.header(await asyncio.wait_for(pdu.read_pdu(reader), timeout=30))


async def test_the_simulator_answers_pdus_that_arrive_byte_by_byte(smsc: SmscSimulator) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", smsc.port)
    try:
        for byte in _pieces(b"".join(ENQUIRE), 1):
            writer.write(byte)
            await writer.drain()
        answers = [await answer(reader) for _ in ENQUIRE]
    finally:
        writer.close()
    assert [(a.command_id, a.sequence) for a in answers] == [
        (pdu.ENQUIRE_LINK | pdu.RESPONSE, n) for n in (1, 2, 3)
    ]


async def test_the_simulator_answers_a_broken_stream_with_a_nack_and_closes(
    smsc: SmscSimulator,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", smsc.port)
    try:
        writer.write(ENQUIRE[0] + (3).to_bytes(4, "big") + bytes(12))
        answered = await answer(reader)
        nack = await answer(reader)
        rest = await asyncio.wait_for(reader.read(), timeout=30)
    finally:
        writer.close()
    assert (answered.command_id, answered.sequence) == (pdu.ENQUIRE_LINK | pdu.RESPONSE, 1)
    assert (nack.command_id, nack.status) == (pdu.GENERIC_NACK, pdu.ESME_RINVCMDLEN)
    assert rest == b""  # closed after the nack
