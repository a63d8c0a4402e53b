"""The simulator's SMPP PDUs: the stream cut into them, and each one read or built.

`submit_sm` and `deliver_sm`, the PDUs with many fields and optional parameters, are read
and built by the third-party `smpp34` library. The others are a 16-octet header and at
most a C-octet string or two, read and built here (the library's binding has no classes
for them). Nothing here comes from the product's SMPP client.
"""

from __future__ import annotations

import struct
from typing import Final, NamedTuple

import smpp34

from cascade.simulators.smsc.records import Piece, SubmittedPart
from cascade.simulators.smsc.wire import (
    CMD_SUBMIT_SM,
    ESM_DELIVERY_RECEIPT,
    GENERIC_NACK,
    INTERFACE_VERSION,
    MESSAGE_STATE,
    NPI_E164,
    RESPONSE,
    TAG_MESSAGE_STATE,
    TAG_RECEIPTED_MESSAGE_ID,
    TAG_SC_INTERFACE_VERSION,
    TON_INTERNATIONAL,
    Status,
)

UNKNOWN_STATE: Final = MESSAGE_STATE["UNKNOWN"]
HEADER: Final = struct.Struct("!IIII")  # command_length, command_id, command_status, sequence
HEADER_SIZE: Final = HEADER.size
# The longest PDU SMPP 3.4 allows is a submit_sm whose message_payload parameter holds the
# most its 2-octet length can say; a command_length beyond this is a broken stream.
LONGEST_PDU: Final = 70_000
SHORT_MESSAGE_OCTETS: Final = 254


class Frames:
    """Cuts what an ESME sends, in whatever pieces the network hands it over, into PDUs."""

    __slots__ = ("_partial",)

    def __init__(self) -> None:
        self._partial = b""  # the start of a PDU whose end has not arrived

    def cut(self, data: bytes) -> tuple[list[bytes], bool]:
        """The PDUs `data` completes, in order, and whether the stream broke after them:
        a command_length no PDU can have, after which nothing can be framed again."""
        stream = self._partial + data if self._partial else data
        whole: list[bytes] = []
        start, available = 0, len(stream)
        while available - start >= HEADER_SIZE:
            (length,) = struct.unpack_from("!I", stream, start)
            if length < HEADER_SIZE or length > LONGEST_PDU:
                self._partial = b""
                return whole, True
            if start + length > available:
                break
            whole.append(stream[start : start + length])
            start += length
        self._partial = stream[start:]
        return whole, False


# --- the small PDUs -----------------------------------------------------------------------------


def build(
    command_id: int, sequence: int, status: int = Status.ESME_ROK, body: bytes = b""
) -> bytes:
    return HEADER.pack(HEADER_SIZE + len(body), command_id, status, sequence) + body


def _c_octets(value: str) -> bytes:
    return value.encode("ascii") + b"\x00"


class BindRequest(NamedTuple):
    system_id: str
    password: str


def read_bind(pdu: bytes) -> BindRequest:
    """A bind's credentials (§4.1.1); ValueError when the body is not a bind's: three
    C-octet strings, then interface_version, addr_ton, addr_npi and address_range."""
    fields = pdu[HEADER_SIZE:].split(b"\x00", 3)
    if len(fields) < 4 or len(fields[3]) < 3:
        raise ValueError("not a bind body")
    return BindRequest(fields[0].decode("latin-1"), fields[1].decode("latin-1"))


def bind_resp(command_id: int, sequence: int, status: int, smsc_id: str) -> bytes:
    """The answer to a bind: this SMSC's system_id and, once bound, the version it speaks."""
    body = _c_octets(smsc_id)
    if status == Status.ESME_ROK:
        body += struct.pack("!HHB", TAG_SC_INTERFACE_VERSION, 1, INTERFACE_VERSION)
    return build(command_id | RESPONSE, sequence, status, body)


def submit_sm_resp(sequence: int, status: int, message_id: str = "") -> bytes:
    """The message id of a submit taken; no body with an error status (§4.4.2)."""
    body = _c_octets(message_id) if status == Status.ESME_ROK else b""
    return build(CMD_SUBMIT_SM | RESPONSE, sequence, status, body)


def generic_nack(sequence: int, status: int) -> bytes:
    return build(GENERIC_NACK, sequence, status)


# --- submit_sm and deliver_sm, through smpp34 ---------------------------------------------------


class Refused(Exception):
    """A submit_sm this SMSC cannot take, with the command_status that says why."""

    def __init__(self, status: Status) -> None:
        super().__init__(status.name)
        self.status = status


def read_submit(pdu: bytes) -> smpp34.SubmitSm:
    """The submit_sm in `pdu`; Refused when it does not decode."""
    try:
        decoded = smpp34.decode(pdu)
    except smpp34.SmppError as error:
        # smpp34 starts its message with the command_status's name: "ESME_RINVPARLEN (0x…)"
        raise Refused(Status.named(str(error).split(" ", 1)[0]) or Status.ESME_RSYSERR) from None
    if not isinstance(decoded, smpp34.SubmitSm):
        raise Refused(Status.ESME_RINVCMDID)
    return decoded


def delivery_receipt(
    sequence: int, part: SubmittedPart, stat: str, text: tuple[int, bytes]
) -> bytes:
    """The deliver_sm that reports `part`'s fate (`stat`, e.g. DELIVRD) from its handset
    back to its sender; `text` is the receipt text's data_coding and octets."""
    data_coding, short_message = text
    return smpp34.DeliverSm(
        part.destination_addr,
        part.source_addr,
        short_message[:SHORT_MESSAGE_OCTETS],
        source_addr_ton=1,  # international
        source_addr_npi=1,  # E.164
        dest_addr_ton=part.source_ton,
        dest_addr_npi=part.source_npi,
        esm_class=ESM_DELIVERY_RECEIPT,
        data_coding=data_coding,
        tlvs=[
            smpp34.Tlv(TAG_RECEIPTED_MESSAGE_ID, _c_octets(part.message_id)),
            smpp34.Tlv(TAG_MESSAGE_STATE, bytes((MESSAGE_STATE.get(stat, UNKNOWN_STATE),))),
        ],
        sequence_number=sequence,
    ).encode()


def mobile_originated(sequence: int, piece: Piece) -> bytes:
    """The deliver_sm that carries a phone's message (or a piece of it) to an ESME."""
    return smpp34.DeliverSm(
        piece.source_addr,
        piece.destination_addr,
        piece.short_message,
        source_addr_ton=TON_INTERNATIONAL,
        source_addr_npi=NPI_E164,
        dest_addr_ton=piece.dest_ton,
        dest_addr_npi=piece.dest_npi,
        esm_class=piece.esm_class,
        data_coding=piece.data_coding,
        tlvs=[smpp34.Tlv(tag, value) for tag, value in piece.tlvs],
        sequence_number=sequence,
    ).encode()
