"""What the SMSC simulator records, for tests to count real deliveries: every submit_sm it
took, every whole message its parts make, every receipt an ESME acknowledged."""

from __future__ import annotations

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
