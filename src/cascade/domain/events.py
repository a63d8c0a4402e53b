"""Domain events: what the outside world told us about a message, a contact or a survey,
and what people wrote back.

Channels produce them (a webhook handler decodes a provider's request into events; an
SMPP session turns a delivery receipt into one), the engine applies them, and the store
keeps what they say. They sit in the domain so that the store and the engine can speak of
them without importing the channel layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import msgspec


class DeliveryReport(msgspec.Struct, frozen=True):
    channel: str
    provider_id: str
    state: Literal["delivered", "read", "failed"]
    at_ms: int
    reason: str | None = None
    # What the report says of its message besides the id (an SMS receipt carries the
    # recipient and the text's first characters): lets a report find a send that is in
    # doubt, whose id was never learnt, and settle it.
    recipient: str | None = None  # E.164
    text_prefix: str | None = None
    # the provider's echo of our own reference for the send, the attempt's id (Vonage's
    # client_ref, RBM's messageId): it names a send in doubt exactly
    attempt_id: str | None = None


@dataclass(frozen=True, slots=True)
class ContactLinked:
    """The platform told us which of its users is behind a phone number."""

    channel: str
    sender_id: str
    phone: str
    address: str


@dataclass(frozen=True, slots=True)
class ContactState:
    """A known user blocked, unblocked, subscribed to or unsubscribed from a sender."""

    channel: str
    sender_id: str
    address: str
    reachable: bool


@dataclass(frozen=True, slots=True)
class SurveyAnswer:
    channel: str
    sender_id: str
    address: str
    answer: str
    message_id: str | None  # from the provider's tracking data, when it carries it
    at_ms: int


@dataclass(frozen=True, slots=True)
class MessagePart:
    """Which piece of a concatenated SMS this is (from its UDH, or its SAR parameters)."""

    reference: int  # ties the pieces of one message together, per sender and recipient
    total: int
    number: int  # 1..total


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A person wrote to an address of ours: an SMS to the sender (an SMPP mobile-originated
    `deliver_sm`), a Viber Business reply, an RCS user message. Stored first, then owed to
    the account's incoming URLs (SPEC D7). Bot conversations are not this (ChatHub).

    `to` is the address the person wrote to as the provider names it (the SMS destination
    address, the Viber service, the RBM agent): the store finds the account by it. A piece
    of a concatenated SMS carries `part`; the store joins the pieces before anything is
    owed, and keeps them until then.
    """

    channel: str
    phone: str  # E.164, who wrote
    to: str
    text: str
    at_ms: int
    # the provider's id for the person's message, when it has one: a webhook repeated by
    # the provider is stored once
    provider_id: str | None = None
    part: MessagePart | None = None


Event = DeliveryReport | ContactLinked | ContactState | SurveyAnswer | InboundMessage
