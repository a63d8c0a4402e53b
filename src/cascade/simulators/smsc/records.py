"""What the SMSC simulator records, for tests to count real deliveries: every submit_sm it
took, every whole message its parts make, every receipt an ESME acknowledged (or refused
for now), every piece of a message from a phone an ESME acknowledged."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec


class SubmittedPart(msgspec.Struct, frozen=True, kw_only=True):
    """One submit_sm the SMSC took."""

    phone: str
    message_id: str
    text: str
    data_coding: int
    esm_class: int
    reference: int | None  # the concatenation UDH's reference; None for a lone part
    total: int
    sequence: int
    source_addr: str
    source_ton: int
    source_npi: int
    destination_addr: str
    dest_ton: int
    dest_npi: int
    validity_period: str
    registered_delivery: int
    system_id: str
    at_ms: int
    answered: bool  # False: taken on a connection dropped before the answer


class ReceivedSms(msgspec.Struct, frozen=True, kw_only=True):
    """One whole message the SMSC took (its parts reassembled)."""

    phone: str
    text: str
    parts: int
    message_ids: list[str]
    data_coding: int
    source_addr: str
    source_ton: int
    source_npi: int
    validity_period: str
    registered_delivery: int
    system_id: str
    at_ms: int
    answered: bool


class ReceiptSent(msgspec.Struct, frozen=True, kw_only=True):
    """A delivery receipt an ESME acknowledged with ESME_ROK."""

    message_id: str
    phone: str
    stat: str
    at_ms: int
    attempts: int  # how many deliver_sm it took


class ReceiptRefused(msgspec.Struct, frozen=True, kw_only=True):
    """A delivery receipt an ESME answered with an error (ESME_RX_T_APPN…): offered again
    later."""

    message_id: str
    phone: str
    status: int  # the deliver_sm_resp's command_status
    at_ms: int
    attempts: int  # how many deliver_sm so far


class PieceTaken(msgspec.Struct, frozen=True, kw_only=True):
    """A message from a phone (or a piece of it) an ESME acknowledged with ESME_ROK."""

    phone: str
    to: str
    text: str
    reference: int | None
    total: int
    number: int
    at_ms: int
    attempts: int  # how many deliver_sm it took


@dataclass(slots=True, eq=False)
class Piece:
    """A message from a phone, or one piece of it, on its way to an ESME of the account
    (`system_id`) as a deliver_sm of esm_class type 0 (its fields as smpp34 takes them)."""

    system_id: str
    phone: str  # +digits
    source_addr: str
    destination_addr: str
    dest_ton: int
    dest_npi: int
    esm_class: int
    data_coding: int
    short_message: bytes
    tlvs: tuple[tuple[int, bytes], ...]
    text: str  # this piece's text, as the phone typed it
    reference: int | None
    total: int
    number: int
    attempts: int = 0
