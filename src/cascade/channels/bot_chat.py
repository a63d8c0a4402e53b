"""Bots as a two-way channel (ChatHub, SPEC E3): an operator's answers sent through the
person's bot, and the person's media fetched from the platform.

What people write arrives through each bot's webhook as `BotChatMessage` events
(`cascade.domain.events`); this module is the other direction. The Telegram and Viber bot
channels implement `BotChat`; the chat API calls it with the bot (`Sender`) and the
person's address from the chat, and stores what comes back.

Media an operator sends are bytes Cascade holds (uploaded as base64). Telegram takes them
as a multipart upload; Viber takes only a URL it fetches itself, so `OutgoingMedia.url`
must be where Cascade serves the same bytes publicly, its last path segment the file's
name with its extension (Viber wants a picture URL to end in .jpeg, .png or .gif).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

import httpx

from cascade.domain.events import ChatMessageStatus, MediaRef
from cascade.domain.sending import (
    Delivered,
    Outcome,
    Retry,
    Sender,
    Sent,
    Throttled,
)

# Telegram lets a bot download files of up to 20 MB; a person's media larger than that is
# refused by both channels, before a byte of it is read when its size is known.
MAX_MEDIA_BYTES: Final = 20 * 1024 * 1024

_CHUNK: Final = 64 * 1024


class MediaFetchError(Exception):
    """A person's media could not be fetched; `reason` says why in a word (no URL, no
    token: it may be logged and shown)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MediaTooLarge(MediaFetchError):
    """The media is larger than the limit; nothing more of it was read."""

    def __init__(self, size: int | None, limit: int) -> None:
        shown = f"{size} bytes" if size is not None else "more"
        super().__init__(f"MEDIA_TOO_LARGE: {shown}, the limit is {limit} bytes")
        self.size = size
        self.limit = limit


@dataclass(frozen=True, slots=True)
class FetchedMedia:
    data: bytes
    mime: str  # as the platform described the media, else as its host served it
    name: str | None = None


@dataclass(frozen=True, slots=True)
class OutgoingMedia:
    """An operator's photo or file: the bytes, and where Cascade serves them (for Viber)."""

    data: bytes
    name: str
    mime: str
    url: str | None = None

    @property
    def is_image(self) -> bool:
        return self.mime.split(";")[0].strip().lower() in _IMAGES


# shown inline as a picture by both platforms; anything else goes as a file
_IMAGES: Final = frozenset({"image/jpeg", "image/jpg", "image/png"})


@dataclass(frozen=True, slots=True)
class ChatSent:
    """What became of an operator's message at the platform.

    `status` is SUCCESS when the platform's acceptance is delivery (Telegram), NEW when a
    receipt will follow for `provider_id` (Viber: `delivered` makes it SUCCESS, `seen`
    READ, see `ChatMessageStatus.of_report`), REJECTED otherwise, with `reason`.
    `retryable`: nothing reached the platform, or it asked to be called again later.
    """

    status: ChatMessageStatus
    provider_id: str = ""
    reason: str | None = None
    retryable: bool = False


def chat_sent(outcome: Outcome) -> ChatSent:
    """A send's outcome, as an operator's message sees it."""
    if isinstance(outcome, Delivered):
        return ChatSent(ChatMessageStatus.SUCCESS, outcome.provider_id)
    if isinstance(outcome, Sent):
        return ChatSent(ChatMessageStatus.NEW, outcome.provider_id)
    retryable = isinstance(outcome, Retry | Throttled)
    return ChatSent(ChatMessageStatus.REJECTED, reason=outcome.reason, retryable=retryable)


@runtime_checkable
class BotChat(Protocol):
    """A bot channel that carries chats: the Telegram and Viber bot channels."""

    async def send_chat_text(self, sender: Sender, address: str, text: str) -> ChatSent: ...

    async def send_chat_media(
        self, sender: Sender, address: str, media: OutgoingMedia, caption: str = ""
    ) -> ChatSent: ...

    async def fetch_media(
        self, sender: Sender, media: MediaRef, limit: int = MAX_MEDIA_BYTES
    ) -> FetchedMedia: ...


async def download(
    client: httpx.AsyncClient, url: str, *, limit: int, known_size: int | None = None
) -> tuple[bytes, str]:
    """GET `url`: its bytes and content type, refusing more than `limit` bytes — by the
    size the platform announced, by `Content-Length`, and by what actually arrives.

    Raises `MediaFetchError` (never quoting the URL, which may hold a bot token).
    """
    if known_size is not None and known_size > limit:
        raise MediaTooLarge(known_size, limit)
    try:
        async with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise MediaFetchError(f"MEDIA_UNAVAILABLE: HTTP {response.status_code}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise MediaTooLarge(int(declared), limit)
            data = bytearray()
            async for chunk in response.aiter_bytes(_CHUNK):
                data += chunk
                if len(data) > limit:
                    raise MediaTooLarge(None, limit)
            kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    except httpx.HTTPError as error:
        raise MediaFetchError(f"MEDIA_UNAVAILABLE: {type(error).__name__}") from None
    return bytes(data), kind
