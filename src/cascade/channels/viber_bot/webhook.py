"""Viber bot callbacks: verify the signature, then turn each callback into domain events.

Viber signs every callback with `X-Viber-Content-Signature`, the hex HMAC-SHA256 of the
raw body keyed by the bot's auth token; an unsigned or forged request gets 401 and
changes nothing. Viber retries a callback for an hour until it sees 200, so callbacks
that are well-formed but carry nothing for us (the `webhook` check, events we do not
use) are acknowledged with 200.

What a person writes to the bot (text, a picture, a file, a video, a location, someone's
contact card) is a `BotChatMessage` (ChatHub); a picture, file or video is kept as the
media URL Viber gives (it lives about an hour: `ViberBotChannel.fetch_media` fetches it).
A contact card is the person's own phone (onboarding: it links the phone, as the
`share-phone` button sends it) when it bears no name or the sender's own name; a card named
for someone else is a chat line. A `delivered`, `seen` or `failed` receipt is a
`DeliveryReport` for its message token, whoever sent that message: for an operator's
message in a chat, `ChatMessageStatus.of_report` says what it becomes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from typing import Annotated, Final, Literal

import msgspec

from cascade.channels.base import Inbound, WebhookReply, WebhookRoute
from cascade.domain.events import (
    BotChatMessage,
    ChatContent,
    ContactLinked,
    ContactState,
    DeliveryReport,
    Event,
    GeoPoint,
    MediaRef,
    SharedContact,
    SurveyAnswer,
)
from cascade.domain.phone import is_e164

log = logging.getLogger(__name__)

CHANNEL: Final = "viber_bot"
SIGNATURE_HEADER: Final = "x-viber-content-signature"

_Id = Annotated[str, msgspec.Meta(min_length=1)]


def signature(body: bytes, token: str) -> str:
    """The `X-Viber-Content-Signature` Viber puts on `body` for the bot with `token`."""
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


def _signed(inbound: Inbound) -> bool:
    given = inbound.headers.get(SIGNATURE_HEADER, "")
    if not given or not inbound.sender.token:
        return False
    expected = signature(inbound.body, inbound.sender.token)
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode())


# --- the callbacks' shapes (fields we do not use are ignored) --------------------------


class _Peek(msgspec.Struct):
    event: str


class _Receipt(msgspec.Struct):
    """`delivered`, `seen`, `failed`."""

    timestamp: int
    message_token: int | _Id
    user_id: str = ""
    desc: str | None = None


class _User(msgspec.Struct):
    id: _Id


class _Subscribed(msgspec.Struct):
    timestamp: int
    user: _User


class _ConversationStarted(msgspec.Struct):
    timestamp: int
    user: _User
    subscribed: bool | None = None


class _Unsubscribed(msgspec.Struct):
    timestamp: int
    user_id: _Id


class _Contact(msgspec.Struct):
    name: str | None = None
    phone_number: str | None = None


class _Location(msgspec.Struct):
    lat: float
    lon: float


class _Message(msgspec.Struct):
    type: str
    text: str | None = None
    tracking_data: str | None = None
    contact: _Contact | None = None
    media: str | None = None  # picture, video, file: where Viber keeps it (about an hour)
    file_name: str | None = None
    file_size: int | None = None
    size: int | None = None  # a video's, in the callbacks that name it so
    location: _Location | None = None


class _Sender(msgspec.Struct):
    id: _Id
    name: str | None = None  # only when the webhook was set with send_name


class _MessageCallback(msgspec.Struct):
    timestamp: int
    sender: _Sender
    message: _Message
    message_token: int | str | None = None


_RECEIPT_STATES: Final[dict[str, Literal["delivered", "read", "failed"]]] = {
    "delivered": "delivered",
    "seen": "read",
    "failed": "failed",
}

_PHONE_PUNCTUATION = re.compile(r"[\s\-().]")


def normalise_phone(raw: str) -> str | None:
    """A shared contact's number as E.164 with '+', or None when it cannot be one.

    Viber sends the number of a shared contact with or without the '+'.
    """
    number = _PHONE_PUNCTUATION.sub("", raw)
    if number.startswith("00"):
        number = number[2:]
    if not number.startswith("+"):
        number = "+" + number
    return number if is_e164(number) else None


# --- the handler ------------------------------------------------------------------------


def _reply(status: int, *events: Event, error: str = "") -> WebhookReply:
    if error:
        return WebhookReply(status, msgspec.json.encode({"error": error}), events=events)
    return WebhookReply(status, b"", content_type="text/plain", events=events)


async def handle_webhook(inbound: Inbound) -> WebhookReply:
    """Serve `POST /webhooks/viber_bot/{sender_id}` for the bot `inbound.sender`."""
    if not _signed(inbound):
        log.warning("viber callback for bot %s with a bad signature", inbound.sender.id)
        return _reply(401, error="bad signature")
    try:
        events = _events(inbound)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        log.warning("malformed viber callback for bot %s: %s", inbound.sender.id, exc)
        return _reply(400, error="malformed callback")
    return _reply(200, *events)


def _events(inbound: Inbound) -> tuple[Event, ...]:
    body = inbound.body
    sender_id = inbound.sender.id
    event = msgspec.json.decode(body, type=_Peek).event
    if event in _RECEIPT_STATES:
        receipt = msgspec.json.decode(body, type=_Receipt)
        state = _RECEIPT_STATES[event]
        return (
            DeliveryReport(
                channel=CHANNEL,
                provider_id=str(receipt.message_token),
                state=state,
                at_ms=receipt.timestamp,
                reason=(receipt.desc or "FAILED") if event == "failed" else None,
            ),
        )
    if event == "subscribed":
        subscribed = msgspec.json.decode(body, type=_Subscribed)
        return (ContactState(CHANNEL, sender_id, subscribed.user.id, reachable=True),)
    if event == "conversation_started":
        started = msgspec.json.decode(body, type=_ConversationStarted)
        if started.subscribed is False:
            # The user opened the chat but is not a subscriber: the bot still cannot
            # message them (send_message would answer 6, receiverNotSubscribed).
            return ()
        return (ContactState(CHANNEL, sender_id, started.user.id, reachable=True),)
    if event == "unsubscribed":
        gone = msgspec.json.decode(body, type=_Unsubscribed)
        return (ContactState(CHANNEL, sender_id, gone.user_id, reachable=False),)
    if event == "message":
        return _message_events(msgspec.json.decode(body, type=_MessageCallback), sender_id)
    # "webhook" (the set_webhook check) and events we do not use: acknowledge them.
    return ()


def _own_card(card: _Contact, sender: _Sender) -> bool:
    """A contact card is the sender's own phone unless it is named for someone else."""
    if not card.name or not sender.name:
        return True
    return card.name.strip().casefold() == sender.name.strip().casefold()


def _message_events(callback: _MessageCallback, sender_id: str) -> tuple[Event, ...]:
    message = callback.message
    address = callback.sender.id
    card = message.contact
    if message.type == "contact" and (card is None or _own_card(card, callback.sender)):
        raw = card.phone_number if card else None
        phone = normalise_phone(raw) if raw else None
        if phone is None:
            log.info("viber contact message without a usable phone number")
            return ()
        return (ContactLinked(CHANNEL, sender_id, phone=phone, address=address),)
    events: list[Event] = []
    if message.type == "text" and message.tracking_data and message.text is not None:
        # Viber returns the tracking data of the last message the bot sent this user,
        # which Cascade sets to its message id: the engine decides if it was a survey.
        # The text is a chat line as well: only the store knows whether a survey was asked.
        events.append(
            SurveyAnswer(
                channel=CHANNEL,
                sender_id=sender_id,
                address=address,
                answer=message.text,
                message_id=message.tracking_data,
                at_ms=callback.timestamp,
            )
        )
    chat = _chat_message(callback, sender_id)
    if chat is not None:
        events.append(chat)
    return tuple(events)


_MEDIA: Final[dict[str, ChatContent]] = {
    "picture": ChatContent.PHOTO,
    "file": ChatContent.DOCUMENT,
    "video": ChatContent.VIDEO,
}


def _chat_message(callback: _MessageCallback, sender_id: str) -> BotChatMessage | None:
    """The person's message as a chat line; None for what chats do not carry (stickers,
    URLs and rich media of their own) or a message missing what its type needs."""
    message = callback.message
    media: MediaRef | None = None
    location: GeoPoint | None = None
    card: SharedContact | None = None
    if message.type == "text" and message.text:
        content = ChatContent.TEXT
    elif message.type in _MEDIA and message.media:
        content = _MEDIA[message.type]
        size = message.file_size if message.file_size is not None else message.size
        media = MediaRef(ref=message.media, name=message.file_name, size=size)
    elif message.type == "location" and message.location is not None:
        content = ChatContent.LOCATION
        location = GeoPoint(message.location.lat, message.location.lon)
    elif message.type == "contact" and message.contact and message.contact.phone_number:
        content = ChatContent.CONTACT
        raw = message.contact.phone_number
        card = SharedContact(phone=normalise_phone(raw) or raw, name=message.contact.name)
    else:
        log.debug("viber %s message not carried by chats", message.type)
        return None
    token = callback.message_token
    return BotChatMessage(
        channel=CHANNEL,
        sender_id=sender_id,
        address=callback.sender.id,
        # every message callback has its token; a timestamp still names it per user
        provider_id=str(token) if token not in (None, "") else f"t{callback.timestamp}",
        at_ms=callback.timestamp,
        content=content,
        text=message.text or "",
        name=callback.sender.name or None,
        media=media,
        location=location,
        contact=card,
    )


WEBHOOK_ROUTE: Final = WebhookRoute(channel=CHANNEL, handler=handle_webhook)
