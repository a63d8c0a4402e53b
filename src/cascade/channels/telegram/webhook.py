"""Telegram's updates webhook: authenticate the call, parse the `Update`, emit events.

Telegram POSTs one JSON `Update` per call to the URL given to `setWebhook`, carrying the
`secret_token` we chose in the `X-Telegram-Bot-Api-Secret-Token` header. The bot learns
which chat belongs to which phone from a shared contact: `/start` answers with a
one-button `request_contact` keyboard, and the contact message that comes back (the
user's own, so `contact.user_id == from.id`) links the phone to the chat. A Bot API
method may be returned in the webhook response body; Telegram executes it, which saves a
round trip for the bot's immediate answers.

Survey options travel as an inline keyboard whose `callback_data` carries the option's
index and Cascade's message id, so an answer needs no server-side memory of what was
sent: the pressed button (`callback_query`) or a text reply to the survey message
(`reply_to_message` carries the keyboard) says everything.

Everything else a person writes in their private chat with the bot — text, a photo, a
document, a voice note, a video, a location, someone's contact — is a `BotChatMessage`
(ChatHub). A photo, a document, a voice note or a video is kept as the `file_id` Telegram
gave the bot (the largest of a photo's sizes); `TelegramChannel.fetch_media` gets its bytes.
"""

from __future__ import annotations

import hmac
import logging
import re
from typing import Any

import msgspec

from cascade.channels.base import Inbound, WebhookReply, WebhookRoute
from cascade.clock import Clock, SystemClock
from cascade.domain.events import (
    BotChatMessage,
    ChatContent,
    ContactLinked,
    ContactState,
    Event,
    GeoPoint,
    MediaRef,
    SharedContact,
    SurveyAnswer,
)
from cascade.domain.phone import is_e164

CHANNEL = "telegram"
# A header name, not a secret; Inbound headers are lower-case.
SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105
ALLOWED_UPDATES = ("message", "my_chat_member", "callback_query")

START_TEXT = "Share your phone number to receive your messages here."
SHARE_BUTTON = "Share my phone number"
LINKED_TEXT = "Thank you! Your messages will arrive in this chat."

_log = logging.getLogger(__name__)
_system_clock = SystemClock()

# --- the subset of the Bot API types the webhook reads ---------------------------------------
# msgspec ignores fields it does not declare, so new Bot API fields never break parsing.


class User(msgspec.Struct, frozen=True):
    id: int
    is_bot: bool = False
    first_name: str = ""
    last_name: str | None = None

    @property
    def full_name(self) -> str | None:
        name = " ".join(part for part in (self.first_name, self.last_name) if part)
        return name or None


class Chat(msgspec.Struct, frozen=True):
    id: int
    type: str = "private"


class Contact(msgspec.Struct, frozen=True):
    phone_number: str
    first_name: str = ""
    last_name: str | None = None
    user_id: int | None = None  # absent when the contact is not a Telegram user


class PhotoSize(msgspec.Struct, frozen=True):
    file_id: str
    width: int = 0
    height: int = 0
    file_size: int | None = None


class File(msgspec.Struct, frozen=True):
    """What a Document, a Voice and a Video share (the rest of their fields is unused)."""

    file_id: str
    file_name: str | None = None
    mime_type: str | None = None
    file_size: int | None = None


class Location(msgspec.Struct, frozen=True):
    latitude: float
    longitude: float


class InlineButton(msgspec.Struct, frozen=True):
    text: str
    callback_data: str | None = None


class InlineKeyboard(msgspec.Struct, frozen=True):
    inline_keyboard: list[list[InlineButton]] = []


class RepliedTo(msgspec.Struct, frozen=True):
    """The message a user replied to (Telegram nests it one level deep only)."""

    message_id: int
    chat: Chat
    reply_markup: InlineKeyboard | None = None


class Message(msgspec.Struct, frozen=True):
    message_id: int
    chat: Chat
    date: int = 0
    from_: User | None = msgspec.field(default=None, name="from")
    text: str | None = None
    caption: str | None = None
    contact: Contact | None = None
    photo: list[PhotoSize] | None = None
    document: File | None = None
    voice: File | None = None
    video: File | None = None
    location: Location | None = None
    reply_to_message: RepliedTo | None = None


class ChatMember(msgspec.Struct, frozen=True):
    status: str  # creator, administrator, member, restricted, left, kicked
    user: User


class ChatMemberUpdated(msgspec.Struct, frozen=True):
    chat: Chat
    from_: User = msgspec.field(name="from")
    date: int
    old_chat_member: ChatMember
    new_chat_member: ChatMember


class CallbackMessage(msgspec.Struct, frozen=True):
    message_id: int
    chat: Chat
    reply_markup: InlineKeyboard | None = None


class CallbackQuery(msgspec.Struct, frozen=True):
    id: str
    from_: User = msgspec.field(name="from")
    message: CallbackMessage | None = None
    data: str | None = None


class Update(msgspec.Struct, frozen=True):
    update_id: int
    message: Message | None = None
    my_chat_member: ChatMemberUpdated | None = None
    callback_query: CallbackQuery | None = None


_update_decoder = msgspec.json.Decoder(Update)

# --- survey buttons ----------------------------------------------------------------------------

_SURVEY_PREFIX = "sv"
_CALLBACK_DATA_MAX = 64  # bytes, the Bot API's limit on callback_data


def survey_callback_data(index: int, message_id: str) -> str:
    """What a survey button carries back: the option's index and Cascade's message id."""
    data = f"{_SURVEY_PREFIX}:{index}:{message_id}"
    if len(data.encode()) > _CALLBACK_DATA_MAX:
        data = f"{_SURVEY_PREFIX}:{index}:"  # an id that does not fit is dropped, not cut
    return data


def survey_markup(options: tuple[str, ...], message_id: str) -> dict[str, Any]:
    """An inline keyboard with one option per row, in the order given."""
    return {
        "inline_keyboard": [
            [{"text": option, "callback_data": survey_callback_data(i, message_id)}]
            for i, option in enumerate(options)
        ]
    }


def _parse_survey_data(data: str) -> tuple[int, str | None] | None:
    prefix, _, rest = data.partition(":")
    index_text, _, message_id = rest.partition(":")
    if prefix != _SURVEY_PREFIX or not index_text.isdigit():
        return None
    return int(index_text), (message_id or None)


def _survey_buttons(markup: InlineKeyboard | None) -> list[tuple[str, int, str | None]]:
    """(text, index, message id) of every survey button in a keyboard."""
    found: list[tuple[str, int, str | None]] = []
    for row in markup.inline_keyboard if markup else ():
        for button in row:
            parsed = _parse_survey_data(button.callback_data or "")
            if parsed is not None:
                found.append((button.text, parsed[0], parsed[1]))
    return found


# --- phones ------------------------------------------------------------------------------------

_NOT_DIGITS = re.compile(r"\D")


def normalise_phone(raw: str) -> str | None:
    """A shared contact's number in E.164, or None when it cannot be one.

    Telegram sends the number as the user's account has it, usually digits only
    ("380501234567"), sometimes with "+" or spaces.
    """
    digits = _NOT_DIGITS.sub("", raw)
    phone = f"+{digits}"
    return phone if is_e164(phone) else None


# --- the handler -------------------------------------------------------------------------------


def _json_reply(body: dict[str, Any], *events: Event) -> WebhookReply:
    return WebhookReply(status=200, body=msgspec.json.encode(body), events=events)


def _ok(*events: Event) -> WebhookReply:
    return WebhookReply(status=200, events=events)


def _authentic(inbound: Inbound) -> bool:
    expected = inbound.sender.webhook_secret
    if not expected:
        return False  # a bot without a secret cannot tell Telegram from anyone else
    given = inbound.headers.get(SECRET_HEADER, "")
    return hmac.compare_digest(given.encode(), expected.encode())


def _start_reply(chat_id: int) -> WebhookReply:
    return _json_reply(
        {
            "method": "sendMessage",
            "chat_id": chat_id,
            "text": START_TEXT,
            "reply_markup": {
                "keyboard": [[{"text": SHARE_BUTTON, "request_contact": True}]],
                "one_time_keyboard": True,
                "resize_keyboard": True,
            },
        }
    )


def _on_contact(inbound: Inbound, message: Message, contact: Contact) -> WebhookReply:
    """The person shared their own phone (onboarding): it links the phone to the chat.
    Someone else's contact proves nothing about this chat; it is a chat line instead."""
    phone = normalise_phone(contact.phone_number)
    if phone is None:
        _log.info("telegram contact with an unusable number ignored (bot %s)", inbound.sender.id)
        return _ok()
    linked = ContactLinked(
        channel=CHANNEL, sender_id=inbound.sender.id, phone=phone, address=str(message.chat.id)
    )
    body = {
        "method": "sendMessage",
        "chat_id": message.chat.id,
        "text": LINKED_TEXT,
        "reply_markup": {"remove_keyboard": True},
    }
    return _json_reply(body, linked)


def _own_contact(message: Message, contact: Contact) -> bool:
    sender = message.from_
    return sender is not None and contact.user_id is not None and contact.user_id == sender.id


def _on_message(inbound: Inbound, message: Message) -> WebhookReply:
    if message.chat.type != "private" or (message.from_ is not None and message.from_.is_bot):
        return _ok()
    if message.contact is not None and _own_contact(message, message.contact):
        return _on_contact(inbound, message, message.contact)
    text = (message.text or "").strip()
    if text == "/start" or text.startswith("/start "):
        return _start_reply(message.chat.id)
    replied = message.reply_to_message
    if text and replied is not None:
        for option, _index, message_id in _survey_buttons(replied.reply_markup):
            if option.strip().casefold() == text.casefold():
                answer = SurveyAnswer(
                    channel=CHANNEL,
                    sender_id=inbound.sender.id,
                    address=str(message.chat.id),
                    answer=option,
                    message_id=message_id,
                    at_ms=message.date * 1000,
                )
                return _ok(answer)
    chat = chat_message(inbound.sender.id, message)
    return _ok(chat) if chat is not None else _ok()


def _largest(sizes: list[PhotoSize]) -> PhotoSize | None:
    return max(sizes, key=lambda s: (s.width * s.height, s.file_size or 0), default=None)


# Telegram re-encodes every photo as JPEG; a voice note is OGG/Opus unless it says otherwise
_PHOTO_MIME = "image/jpeg"
_VOICE_MIME = "audio/ogg"


def _media(file: File, default_mime: str | None = None) -> MediaRef:
    return MediaRef(
        ref=file.file_id,
        name=file.file_name,
        mime=file.mime_type or default_mime,
        size=file.file_size,
    )


def _content(message: Message) -> tuple[ChatContent, dict[str, Any]] | None:
    """What the message holds, as `BotChatMessage` fields; None for what chats do not
    carry (stickers, polls, service messages)."""
    if message.text:
        return ChatContent.TEXT, {}
    photo = _largest(message.photo or [])
    if photo is not None:
        ref = MediaRef(ref=photo.file_id, mime=_PHOTO_MIME, size=photo.file_size)
        return ChatContent.PHOTO, {"media": ref}
    if message.document is not None:
        return ChatContent.DOCUMENT, {"media": _media(message.document)}
    if message.voice is not None:
        return ChatContent.VOICE, {"media": _media(message.voice, _VOICE_MIME)}
    if message.video is not None:
        return ChatContent.VIDEO, {"media": _media(message.video)}
    if message.location is not None:
        point = GeoPoint(message.location.latitude, message.location.longitude)
        return ChatContent.LOCATION, {"location": point}
    if message.contact is not None:
        card = message.contact
        name = " ".join(p for p in (card.first_name, card.last_name) if p) or None
        phone = normalise_phone(card.phone_number) or card.phone_number
        return ChatContent.CONTACT, {"contact": SharedContact(phone=phone, name=name)}
    return None


def chat_message(sender_id: str, message: Message) -> BotChatMessage | None:
    """A person's message in their private chat with the bot, as a chat line."""
    found = _content(message)
    if found is None:
        return None
    content, fields = found
    return BotChatMessage(
        channel=CHANNEL,
        sender_id=sender_id,
        address=str(message.chat.id),
        provider_id=str(message.message_id),
        at_ms=message.date * 1000,
        content=content,
        text=message.text or message.caption or "",
        name=message.from_.full_name if message.from_ is not None else None,
        **fields,
    )


def _on_member(inbound: Inbound, update: ChatMemberUpdated) -> WebhookReply:
    if update.chat.type != "private":
        return _ok()
    status = update.new_chat_member.status
    if status not in ("kicked", "member"):
        return _ok()
    state = ContactState(
        channel=CHANNEL,
        sender_id=inbound.sender.id,
        address=str(update.chat.id),
        reachable=status == "member",
    )
    return _ok(state)


def _on_callback(inbound: Inbound, query: CallbackQuery, clock: Clock) -> WebhookReply:
    # Always answer the query, or the user's client shows a spinner on the button.
    body: dict[str, Any] = {"method": "answerCallbackQuery", "callback_query_id": query.id}
    message = query.message
    parsed = _parse_survey_data(query.data or "")
    if message is None or parsed is None:
        return _json_reply(body)
    index, message_id = parsed
    texts = {i: text for text, i, _ in _survey_buttons(message.reply_markup)}
    answer = SurveyAnswer(
        channel=CHANNEL,
        sender_id=inbound.sender.id,
        address=str(message.chat.id),
        answer=texts.get(index, str(index + 1)),
        message_id=message_id,
        at_ms=clock.now_ms(),
    )
    return _json_reply(body, answer)


async def handle_webhook(inbound: Inbound, *, clock: Clock | None = None) -> WebhookReply:
    """Turn one Telegram webhook call into a reply and the events it carries."""
    if not _authentic(inbound):
        return WebhookReply(status=401)
    try:
        update = _update_decoder.decode(inbound.body)
    except msgspec.DecodeError:  # ValidationError is a subclass: wrong shapes land here too
        return WebhookReply(status=400)
    if update.message is not None:
        return _on_message(inbound, update.message)
    if update.my_chat_member is not None:
        return _on_member(inbound, update.my_chat_member)
    if update.callback_query is not None:
        return _on_callback(inbound, update.callback_query, clock or _system_clock)
    return _ok()


WEBHOOK_ROUTE = WebhookRoute(channel=CHANNEL, handler=handle_webhook)
