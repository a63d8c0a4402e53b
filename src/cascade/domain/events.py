"""Domain events: what the outside world told us about a message, a contact or a survey,
and what people wrote back.

Channels produce them (a webhook handler decodes a provider's request into events; an
SMPP session turns a delivery receipt into one), the engine applies them, and the store
keeps what they say. They sit in the domain so that the store and the engine can speak of
them without importing the channel layer.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass, replace
from enum import IntEnum, StrEnum
from typing import Any, Literal, TypeVar

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


# --- ChatHub: what people write to a bot, and what became of an operator's answer -------------


class ChatContent(StrEnum):
    """What a person's message to a bot holds."""

    TEXT = "text"
    PHOTO = "photo"  # Telegram photo, Viber picture
    DOCUMENT = "document"  # Telegram document, Viber file
    VOICE = "voice"
    VIDEO = "video"
    LOCATION = "location"
    CONTACT = "contact"  # someone's contact card (not the person's own phone: that links)


MEDIA_CONTENT = frozenset(
    {ChatContent.PHOTO, ChatContent.DOCUMENT, ChatContent.VOICE, ChatContent.VIDEO}
)


@dataclass(frozen=True, slots=True)
class MediaRef:
    """A person's media as the platform keeps it; the bot's channel fetches the bytes on
    demand (`fetch_media`). `ref` is what the platform names it by: a Telegram `file_id`
    (valid for that bot only), a Viber media URL (valid for about an hour)."""

    ref: str
    name: str | None = None  # the file's name, when the platform gives one
    mime: str | None = None  # its type, when the platform gives one
    size: int | None = None  # bytes, when the platform gives it


@dataclass(frozen=True, slots=True)
class GeoPoint:
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class SharedContact:
    phone: str  # E.164 when it can be read as one, else as the platform gave it
    name: str | None = None


@dataclass(frozen=True, slots=True)
class BotChatMessage:
    """A person wrote to one of the account's bots: the start or the next line of a chat
    (SPEC E3). Onboarding (`/start`, sharing one's own phone) is not this.

    The chat is the pair (`sender_id`, `address`): the bot and the person as the platform
    names them (a Telegram chat id, a Viber user id). `provider_id` is the platform's id for
    the message, unique per bot and person (Telegram's `message_id`, Viber's
    `message_token`): a webhook the platform repeats is stored once. The person's phone is
    not in the update: the store knows it from `ContactLinked` for the same address.
    `text` is the text, or a media's caption ("" when there is none); exactly one of
    `media`, `location`, `contact` goes with the matching `content`.
    """

    channel: str
    sender_id: str
    address: str
    provider_id: str
    at_ms: int
    content: ChatContent
    text: str = ""
    name: str | None = None  # the person's name as the platform shows it
    media: MediaRef | None = None
    location: GeoPoint | None = None
    contact: SharedContact | None = None


class ChatMessageStatus(IntEnum):
    """The status of a chat message, as ChatHub reports it (SPEC E3)."""

    NEW = 0
    SUCCESS = 1
    REJECTED = 2
    READ = 3

    @classmethod
    def of_report(cls, state: Literal["delivered", "read", "failed"]) -> ChatMessageStatus:
        """What a platform's receipt for an operator's message makes of it (a Viber
        `delivered`, `seen` or `failed` callback arrives as a `DeliveryReport` whose
        `provider_id` is the message token `send_chat_*` returned)."""
        return _REPORTED[state]


_REPORTED: dict[str, ChatMessageStatus] = {
    "delivered": ChatMessageStatus.SUCCESS,
    "read": ChatMessageStatus.READ,
    "failed": ChatMessageStatus.REJECTED,
}


Event = (
    DeliveryReport | ContactLinked | ContactState | SurveyAnswer | InboundMessage | BotChatMessage
)


# --- what no database text can hold ------------------------------------------------------------

NUL = "\x00"
NUL_SHOWN = "\ufffd"  # U+FFFD REPLACEMENT CHARACTER

T = TypeVar("T")


def without_nul(event: T) -> T:
    """`event` with every U+0000 in its text (and in its nested parts: a media's name, a
    shared contact's) replaced by U+FFFD, and nothing else changed; `event` itself when it
    has none. PostgreSQL's `text` cannot hold a NUL, and a person can write one: the
    message is kept, and shows where it was, rather than failing its webhook for ever."""
    return _without_nul(event)  # type: ignore[no-any-return]


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace(NUL, NUL_SHOWN) if NUL in value else value
    if isinstance(value, msgspec.Struct):
        changed = _changed(value, value.__struct_fields__)
        return msgspec.structs.replace(value, **changed) if changed else value
    if is_dataclass(value) and not isinstance(value, type):
        changed = _changed(value, [f.name for f in fields(value)])
        return replace(value, **changed) if changed else value
    return value


def _changed(value: object, names: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name in names:
        before = getattr(value, name)
        after = _without_nul(before)
        if after is not before:
            found[name] = after
    return found
