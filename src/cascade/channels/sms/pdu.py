"""SMPP 3.4 on the wire: framing, and the PDUs both sides of a session exchange.

`submit_sm` and `deliver_sm` — the PDUs with many fields, optional parameters (TLVs) and
the receipt path from an SMSC we do not control — are encoded and decoded by `smpp34`
(see README.md for why that library). Its Python binding has no classes for the small
PDUs (binds, their responses, `submit_sm_resp`, `enquire_link`, `unbind`,
`generic_nack`), which are a 16-octet header plus at most a few C-octet strings; they are
built and read here. The ESME (`session`) and the SMSC simulator both use this module.
"""

from __future__ import annotations

import asyncio
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import msgspec
import smpp34

# --- command ids (SMPP 3.4 §5.1.2) ----------------------------------------------------------

GENERIC_NACK = 0x80000000
BIND_RECEIVER = 0x00000001
BIND_TRANSMITTER = 0x00000002
SUBMIT_SM = 0x00000004
DELIVER_SM = 0x00000005
UNBIND = 0x00000006
BIND_TRANSCEIVER = 0x00000009
OUTBIND = 0x0000000B
ENQUIRE_LINK = 0x00000015
ALERT_NOTIFICATION = 0x00000102
RESPONSE = 0x80000000  # a response's id is its request's id with the top bit set

SMPP_VERSION = 0x34

# --- command_status values (SMPP 3.4 §5.1.3) ------------------------------------------------

ESME_ROK = 0x00
ESME_RINVMSGLEN = 0x01
ESME_RINVCMDLEN = 0x02
ESME_RINVCMDID = 0x03
ESME_RINVBNDSTS = 0x04
ESME_RALYBND = 0x05
ESME_RSYSERR = 0x08
ESME_RINVSRCADR = 0x0A
ESME_RINVDSTADR = 0x0B
ESME_RBINDFAIL = 0x0D
ESME_RINVPASWD = 0x0E
ESME_RINVSYSID = 0x0F
ESME_RMSGQFUL = 0x14
ESME_RSUBMITFAIL = 0x45
ESME_RINVSRCTON = 0x48
ESME_RINVSRCNPI = 0x49
ESME_RINVDSTTON = 0x50
ESME_RINVDSTNPI = 0x51
ESME_RINVSYSTYP = 0x53
ESME_RTHROTTLED = 0x58
ESME_RINVEXPIRY = 0x62
ESME_RX_T_APPN = 0x64
ESME_RX_P_APPN = 0x65
ESME_RX_R_APPN = 0x66
ESME_RUNKNOWNERR = 0xFF

STATUS_NAMES = {
    0x00: "ESME_ROK",
    0x01: "ESME_RINVMSGLEN",
    0x02: "ESME_RINVCMDLEN",
    0x03: "ESME_RINVCMDID",
    0x04: "ESME_RINVBNDSTS",
    0x05: "ESME_RALYBND",
    0x06: "ESME_RINVPRTFLG",
    0x07: "ESME_RINVREGDLVFLG",
    0x08: "ESME_RSYSERR",
    0x0A: "ESME_RINVSRCADR",
    0x0B: "ESME_RINVDSTADR",
    0x0C: "ESME_RINVMSGID",
    0x0D: "ESME_RBINDFAIL",
    0x0E: "ESME_RINVPASWD",
    0x0F: "ESME_RINVSYSID",
    0x11: "ESME_RCANCELFAIL",
    0x13: "ESME_RREPLACEFAIL",
    0x14: "ESME_RMSGQFUL",
    0x15: "ESME_RINVSERTYP",
    0x33: "ESME_RINVNUMDESTS",
    0x34: "ESME_RINVDLNAME",
    0x40: "ESME_RINVDESTFLAG",
    0x42: "ESME_RINVSUBREP",
    0x43: "ESME_RINVESMCLASS",
    0x44: "ESME_RCNTSUBDL",
    0x45: "ESME_RSUBMITFAIL",
    0x48: "ESME_RINVSRCTON",
    0x49: "ESME_RINVSRCNPI",
    0x50: "ESME_RINVDSTTON",
    0x51: "ESME_RINVDSTNPI",
    0x53: "ESME_RINVSYSTYP",
    0x54: "ESME_RINVREPFLAG",
    0x55: "ESME_RINVNUMMSGS",
    0x58: "ESME_RTHROTTLED",
    0x61: "ESME_RINVSCHED",
    0x62: "ESME_RINVEXPIRY",
    0x63: "ESME_RINVDFTMSGID",
    0x64: "ESME_RX_T_APPN",
    0x65: "ESME_RX_P_APPN",
    0x66: "ESME_RX_R_APPN",
    0x67: "ESME_RQUERYFAIL",
    0xC0: "ESME_RINVOPTPARSTREAM",
    0xC1: "ESME_ROPTPARNOTALLWD",
    0xC2: "ESME_RINVPARLEN",
    0xC3: "ESME_RMISSINGOPTPARAM",
    0xC4: "ESME_RINVOPTPARAMVAL",
    0xFE: "ESME_RDELIVERYFAILURE",
    0xFF: "ESME_RUNKNOWNERR",
}
_BY_NAME = {name: status for status, name in STATUS_NAMES.items()}


def status_name(status: int) -> str:
    """`ESME_RTHROTTLED`, or `0x00000400` for a vendor-specific status."""
    return STATUS_NAMES.get(status, f"0x{status:08X}")


def status_by_name(name: str) -> int | None:
    return _BY_NAME.get(name.upper())


# --- optional parameter tags used here (§5.3.2) -----------------------------------------------

TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_SAR_MSG_REF_NUM = 0x020C  # a concatenated message's reference, 2 octets
TLV_SAR_TOTAL_SEGMENTS = 0x020E  # its number of pieces, 1 octet
TLV_SAR_SEGMENT_SEQNUM = 0x020F  # this piece's number, 1 octet
TLV_SC_INTERFACE_VERSION = 0x0210
TLV_NETWORK_ERROR_CODE = 0x0423
TLV_MESSAGE_PAYLOAD = 0x0424  # the text, when it does not go in short_message
TLV_MESSAGE_STATE = 0x0427

# message_state values (§5.2.28) and the receipt-text `stat:` word each is reported as.
MESSAGE_STATES = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}
STATE_BY_STAT = {stat: state for state, stat in MESSAGE_STATES.items()}

# esm_class message-type bits (§5.2.12) on a deliver_sm: 0 is a mobile-originated message
ESM_TYPE_MASK = 0x3C
ESM_DEFAULT = 0x00
ESM_SMSC_RECEIPT = 0x04
ESM_INTERMEDIATE = 0x20

# --- framing ---------------------------------------------------------------------------------

HEADER = struct.Struct("!IIII")
HEADER_SIZE = HEADER.size
MAX_PDU = 64 * 1024  # far above any 3.4 PDU; a bigger length means a broken stream


class FramingError(Exception):
    """The stream does not hold a well-formed PDU: it cannot be resynchronised."""


class Header(msgspec.Struct, frozen=True):
    length: int
    command_id: int
    status: int
    sequence: int

    @property
    def is_response(self) -> bool:
        return bool(self.command_id & RESPONSE)


def header(pdu: bytes) -> Header:
    return Header(*HEADER.unpack_from(pdu))


def command_length(data: bytes, at: int = 0) -> int:
    """The `command_length` of the PDU that starts at `at`; FramingError when no PDU can
    be that long."""
    length = int.from_bytes(data[at : at + 4], "big")
    if not HEADER_SIZE <= length <= MAX_PDU:
        raise FramingError(f"command_length {length}")
    return length


async def read_pdu(reader: asyncio.StreamReader) -> bytes:
    """One whole PDU; `asyncio.IncompleteReadError` at end of stream."""
    head = await reader.readexactly(HEADER_SIZE)
    return head + await reader.readexactly(command_length(head) - HEADER_SIZE)


class PduSplitter:
    """Cuts a byte stream that arrives in pieces (`asyncio.Protocol.data_received`) into
    whole PDUs. A peer reading from a `StreamReader` uses `read_pdu` instead."""

    __slots__ = ("_rest",)

    def __init__(self) -> None:
        self._rest = b""  # the start of a PDU not received whole yet

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The PDUs `data` completes, in order; the rest waits for the next piece. Raises
        FramingError where a length is impossible, after the PDUs before it. Iterate to the
        end (or drop the splitter with its stream): what is left is kept only then."""
        if self._rest:
            data, self._rest = self._rest + data, b""
        at, end = 0, len(data)
        while end - at >= HEADER_SIZE:
            stop = at + command_length(data, at)
            if stop > end:
                break
            yield data if at == 0 and stop == end else data[at:stop]
            at = stop
        self._rest = data[at:]


def encode(command_id: int, sequence: int, status: int = ESME_ROK, body: bytes = b"") -> bytes:
    return HEADER.pack(HEADER_SIZE + len(body), command_id, status, sequence) + body


def c_string(value: str, limit: int, name: str = "value") -> bytes:
    """A C-octet string of at most `limit` octets including the NUL. The error names the
    field, never its value (it may be a password)."""
    try:
        raw = value.encode("ascii")
    except UnicodeEncodeError:
        raw = b"\x00"
    if len(raw) >= limit or b"\x00" in raw:
        raise ValueError(f"{name} does not fit a C-octet string of {limit} ASCII octets")
    return raw + b"\x00"


def read_c_string(body: bytes, offset: int = 0) -> tuple[str, int]:
    """The C-octet string at `offset` and the offset after its NUL (lenient: no NUL at the
    end of the body ends the string there)."""
    end = body.find(b"\x00", offset)
    stop = len(body) if end < 0 else end
    return body[offset:stop].decode("latin-1"), min(len(body), stop + 1)


def tlv(tag: int, value: bytes) -> bytes:
    return struct.pack("!HH", tag, len(value)) + value


def body_of(pdu: bytes) -> bytes:
    return pdu[HEADER_SIZE:]


# --- the small PDUs ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bind:
    """bind_transmitter / bind_receiver / bind_transceiver body (§4.1)."""

    system_id: str
    password: str
    system_type: str = ""
    interface_version: int = SMPP_VERSION
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""

    def encode(self, sequence: int, command_id: int = BIND_TRANSCEIVER) -> bytes:
        body = (
            c_string(self.system_id, 16, "system_id")
            + c_string(self.password, 9, "password")
            + c_string(self.system_type, 13, "system_type")
            + bytes((self.interface_version, self.addr_ton, self.addr_npi))
            + c_string(self.address_range, 41, "address_range")
        )
        return encode(command_id, sequence, body=body)

    @classmethod
    def decode(cls, body: bytes) -> Bind:
        system_id, at = read_c_string(body)
        password, at = read_c_string(body, at)
        system_type, at = read_c_string(body, at)
        if at + 3 > len(body):
            raise ValueError("bind body too short")
        version, ton, npi = body[at], body[at + 1], body[at + 2]
        address_range, _ = read_c_string(body, at + 3)
        return cls(system_id, password, system_type, version, ton, npi, address_range)


def bind_resp(command_id: int, sequence: int, status: int, system_id: str) -> bytes:
    """bind_*_resp: the SMSC's system_id, and the sc_interface_version it speaks."""
    body = c_string(system_id, 16, "system_id")
    if status == ESME_ROK:
        body += tlv(TLV_SC_INTERFACE_VERSION, bytes((SMPP_VERSION,)))
    return encode(command_id | RESPONSE, sequence, status, body)


def message_id_resp(command_id: int, sequence: int, status: int, message_id: str = "") -> bytes:
    """submit_sm_resp / deliver_sm_resp: a message_id C-string (empty for deliver_sm_resp,
    and the body may be left out when the status is an error)."""
    if command_id == DELIVER_SM:
        body = b"\x00"  # deliver_sm_resp's message_id is unused and always NULL
    elif status == ESME_ROK:
        body = c_string(message_id, 65, "message_id")
    else:
        body = b""  # "not returned if the command_status field contains a non-zero value"
    return encode(command_id | RESPONSE, sequence, status, body)


def generic_nack(sequence: int, status: int) -> bytes:
    return encode(GENERIC_NACK, sequence, status)


# --- submit_sm and deliver_sm, through smpp34 --------------------------------------------------


class Submit(msgspec.Struct, frozen=True):
    """What one submit_sm carries (everything but its sequence number)."""

    source_addr: str
    source_ton: int
    source_npi: int
    destination_addr: str
    dest_ton: int
    dest_npi: int
    short_message: bytes
    esm_class: int = 0
    data_coding: int = 0
    validity_period: str = ""
    registered_delivery: int = 1
    service_type: str = ""

    def encode(self, sequence: int) -> bytes:
        """The PDU; ValueError when a field does not fit (e.g. over 254 octets of text)."""
        try:
            return self._encode(sequence)
        except smpp34.SmppError as error:
            raise ValueError(str(error)) from None

    def _encode(self, sequence: int) -> bytes:
        return smpp34.SubmitSm(
            self.source_addr,
            self.destination_addr,
            self.short_message,
            service_type=self.service_type,
            source_addr_ton=self.source_ton,
            source_addr_npi=self.source_npi,
            dest_addr_ton=self.dest_ton,
            dest_addr_npi=self.dest_npi,
            esm_class=self.esm_class,
            validity_period=self.validity_period,
            registered_delivery=self.registered_delivery,
            data_coding=self.data_coding,
            sequence_number=sequence,
        ).encode()


class Deliver(msgspec.Struct, frozen=True):
    """A deliver_sm as the SMSC sends it (a receipt or a mobile-originated message)."""

    source_addr: str
    source_ton: int
    source_npi: int
    destination_addr: str
    dest_ton: int
    dest_npi: int
    esm_class: int
    data_coding: int
    short_message: bytes
    tlvs: dict[int, bytes] = msgspec.field(default_factory=dict)

    def encode(self, sequence: int) -> bytes:
        return smpp34.DeliverSm(
            self.source_addr,
            self.destination_addr,
            self.short_message,
            source_addr_ton=self.source_ton,
            source_addr_npi=self.source_npi,
            dest_addr_ton=self.dest_ton,
            dest_addr_npi=self.dest_npi,
            esm_class=self.esm_class,
            data_coding=self.data_coding,
            tlvs=[smpp34.Tlv(tag, value) for tag, value in self.tlvs.items()],
            sequence_number=sequence,
        ).encode()


_STATUS_IN_ERROR = re.compile(r"\(0x([0-9A-Fa-f]{1,8})\)")


class DecodeError(ValueError):
    """A PDU smpp34 could not decode, with the command_status that says why."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _decode(pdu: bytes) -> smpp34.SubmitSm | smpp34.DeliverSm | smpp34.RawPdu:
    try:
        return smpp34.decode(pdu)
    except smpp34.SmppError as error:
        found = _STATUS_IN_ERROR.search(str(error))
        raise DecodeError(str(error), int(found.group(1), 16) if found else ESME_RSYSERR) from None


def decode_submit(pdu: bytes) -> tuple[int, Submit]:
    """A submit_sm's sequence number and content."""
    decoded = _decode(pdu)
    if not isinstance(decoded, smpp34.SubmitSm):
        raise DecodeError("not a submit_sm", ESME_RINVCMDID)
    return decoded.sequence_number, Submit(
        source_addr=decoded.source_addr,
        source_ton=decoded.source_addr_ton,
        source_npi=decoded.source_addr_npi,
        destination_addr=decoded.destination_addr,
        dest_ton=decoded.dest_addr_ton,
        dest_npi=decoded.dest_addr_npi,
        short_message=decoded.short_message,
        esm_class=decoded.esm_class,
        data_coding=decoded.data_coding,
        validity_period=decoded.validity_period,
        registered_delivery=decoded.registered_delivery,
        service_type=decoded.service_type,
    )


def decode_deliver(pdu: bytes) -> Deliver:
    decoded = _decode(pdu)
    if not isinstance(decoded, smpp34.DeliverSm):
        raise DecodeError("not a deliver_sm", ESME_RINVCMDID)
    return Deliver(
        source_addr=decoded.source_addr,
        source_ton=decoded.source_addr_ton,
        source_npi=decoded.source_addr_npi,
        destination_addr=decoded.destination_addr,
        dest_ton=decoded.dest_addr_ton,
        dest_npi=decoded.dest_addr_npi,
        esm_class=decoded.esm_class,
        data_coding=decoded.data_coding,
        short_message=decoded.short_message,
        tlvs={item.tag: item.value for item in decoded.tlvs},
    )
