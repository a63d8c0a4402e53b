"""Sending through the Viber REST Bot API, and what each answer means for the cascade.

Viber answers HTTP 200 for nearly everything and puts the verdict in a numeric `status`;
`_STATUSES` below is that table as data, each code mapped to what the engine should do.
The bot's auth token travels only in the `X-Viber-Auth-Token` header and is never logged.

Chats (ChatHub) use the same client: an operator's text is a `text` message; a picture or
a file is a `picture` or `file` message naming a public URL Viber fetches the media from
(Viber takes no uploads), so `send_chat_picture` and `send_chat_file` take that URL, and
`send_chat_media` the operator's media with the URL Cascade serves it at. Acceptance is
not delivery: the answer's `message_token` is what the `delivered` and `seen` callbacks
name. A person's media is fetched from the URL its callback gave, without the bot's token
(the URL needs none, and it must not travel to a host it was not meant for).
"""

from __future__ import annotations

import logging
from typing import Any, Final, Literal

import httpx
import msgspec

from cascade.channels.base import WebhookRoute
from cascade.channels.bot_chat import (
    MAX_MEDIA_BYTES,
    ChatSent,
    FetchedMedia,
    OutgoingMedia,
    chat_sent,
    download,
)
from cascade.channels.http import transport_outcome
from cascade.channels.transport import provider_client
from cascade.channels.viber_bot.webhook import WEBHOOK_ROUTE
from cascade.domain.content import ContentKind
from cascade.domain.events import ChatMessageStatus, MediaRef
from cascade.domain.sending import (
    Failed,
    InDoubt,
    Limits,
    Misconfigured,
    Outbound,
    Outcome,
    Retry,
    Sender,
    Sent,
    Throttled,
    Unreachable,
)

log = logging.getLogger(__name__)

NAME: Final = "viber_bot"
DEFAULT_BASE_URL: Final = "https://chatapi.viber.com"

# Viber: text up to 7,000 characters, sender name up to 28; a bot's delivered callback
# usually comes within seconds, so ten minutes of silence means the phone is away.
MAX_TEXT: Final = 7000
MAX_SENDER_NAME: Final = 28
MAX_TRACKING_DATA: Final = 4096
MAX_FILE_NAME: Final = 256
MAX_FILE: Final = 50 * 1024 * 1024  # bytes of a file message's media

LIMITS: Final = Limits(
    max_text=MAX_TEXT,
    per_sender_per_second=None,  # Viber publishes no per-bot rate; status 12 pauses us
    per_recipient_per_second=None,
    confirms_delivery=True,
    delivery_window_s=600,
    carries=frozenset({ContentKind.TEXT, ContentKind.SURVEY}),  # options as a keyboard
    bot_no_contact="NOT_SUBSCRIBED",  # a recipient is known only once they shared their phone
)

# Viber names no wait for status 12; one second lets the engine's pause do the backing off.
THROTTLE_PAUSE_S: Final = 1.0

_OCTETS: Final = "application/octet-stream"
_FALLBACK_NAME: Final = "Bot"

_Kind = Literal["ok", "unreachable", "throttled", "misconfigured", "failed"]

# status code -> (Viber's name for it, what it means for the step, the attempt's reason)
_STATUSES: Final[dict[int, tuple[str, _Kind, str]]] = {
    0: ("ok", "ok", ""),
    1: ("invalidUrl", "failed", "INVALID_URL"),
    2: ("invalidAuthToken", "misconfigured", "INVALID_AUTH_TOKEN"),
    3: ("badData", "failed", "BAD_DATA"),
    4: ("missingData", "failed", "MISSING_DATA"),
    5: ("receiverNotRegistered", "unreachable", "NOT_REGISTERED"),
    6: ("receiverNotSubscribed", "unreachable", "NOT_SUBSCRIBED"),
    7: ("publicAccountBlocked", "misconfigured", "PUBLIC_ACCOUNT_BLOCKED"),
    8: ("publicAccountNotFound", "misconfigured", "PUBLIC_ACCOUNT_NOT_FOUND"),
    9: ("publicAccountSuspended", "misconfigured", "PUBLIC_ACCOUNT_SUSPENDED"),
    10: ("webhookNotSet", "misconfigured", "WEBHOOK_NOT_SET"),
    11: ("receiverNoSuitableDevice", "unreachable", "NO_SUITABLE_DEVICE"),
    12: ("tooManyRequests", "throttled", "TOO_MANY_REQUESTS"),
    13: ("apiVersionNotSupported", "failed", "API_VERSION_NOT_SUPPORTED"),
    14: ("incompatibleWithVersion", "failed", "INCOMPATIBLE_WITH_VERSION"),
    15: ("publicAccountNotAuthorized", "misconfigured", "PUBLIC_ACCOUNT_NOT_AUTHORIZED"),
    16: ("inchatReplyMessageNotAllowed", "failed", "INCHAT_REPLY_MESSAGE_NOT_ALLOWED"),
    17: ("publicAccountIsNotInline", "failed", "PUBLIC_ACCOUNT_IS_NOT_INLINE"),
    18: ("noPublicChat", "failed", "NO_PUBLIC_CHAT"),
    19: ("cannotSendBroadcast", "failed", "CANNOT_SEND_BROADCAST"),
    20: ("broadcastNotAllowed", "failed", "BROADCAST_NOT_ALLOWED"),
    21: ("unsupportedCountry", "failed", "UNSUPPORTED_COUNTRY"),
    22: ("paymentUnsupported", "misconfigured", "PAYMENT_UNSUPPORTED"),
    23: ("freeMessagesExceeded", "misconfigured", "FREE_MESSAGES_EXCEEDED"),
    24: ("noBalance", "misconfigured", "NO_BALANCE"),
}

STATUS_NAMES: Final[dict[int, str]] = {code: row[0] for code, row in _STATUSES.items()}


def outcome_for_status(status: int, message_token: str = "") -> Outcome:
    """What a `send_message` answer with this `status` means for the cascade step."""
    row = _STATUSES.get(status)
    if row is None:
        return Failed(f"GENERAL_ERROR_{status}")
    _, kind, reason = row
    if kind == "ok":
        return Sent(message_token)
    if kind == "unreachable":
        return Unreachable(reason)
    if kind == "throttled":
        return Throttled(retry_after_s=THROTTLE_PAUSE_S, reason=reason)
    if kind == "misconfigured":
        return Misconfigured(reason)
    return Failed(reason)


class ViberApiError(Exception):
    """A non-send call (`set_webhook`, `get_account_info`) did not succeed."""

    def __init__(self, status: int, status_message: str) -> None:
        super().__init__(f"Viber status {status}: {status_message}")
        self.status = status
        self.status_message = status_message


class _Answer(msgspec.Struct):
    """The fields every Viber API answer shares (the rest are ignored here)."""

    status: int
    status_message: str = ""
    message_token: int | str | None = None
    event_types: list[str] | None = None


class _Button(msgspec.Struct, rename="pascal"):
    action_type: str
    action_body: str
    text: str
    columns: int = 6
    rows: int = 1


class _Keyboard(msgspec.Struct, rename="pascal"):
    buttons: list[_Button]
    type: str = "keyboard"
    default_height: bool = False


class _SenderInfo(msgspec.Struct):
    name: str


class _TextMessage(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A `send_message` body; only the keyboard is left out when there is none."""

    receiver: str
    min_api_version: int
    sender: _SenderInfo
    tracking_data: str
    type: str
    text: str
    keyboard: _Keyboard | None = None


class _ChatMessage(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A `send_message` body for a chat: text, picture or file (no tracking data: the
    person's answer is a chat line, not a reply to something Cascade tracks)."""

    receiver: str
    min_api_version: int
    sender: _SenderInfo
    type: str
    text: str | None = None
    media: str | None = None
    size: int | None = None
    file_name: str | None = None


def survey_keyboard(options: tuple[str, ...]) -> _Keyboard:
    """One full-width reply button per option: a tap sends the option back as text."""
    return _Keyboard(buttons=[_Button(action_type="reply", action_body=o, text=o) for o in options])


class ViberBotChannel:
    """The `viber_bot` channel: one pooled HTTP client for every bot it sends for."""

    name: str = NAME
    limits: Limits = LIMITS
    routes: tuple[WebhookRoute, ...] = (WEBHOOK_ROUTE,)

    def __init__(
        self, base_url: str = DEFAULT_BASE_URL, client: httpx.AsyncClient | None = None
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._owns_client = client is None
        self._client = client if client is not None else provider_client()
        self._names: dict[str, str] = {}  # bot token -> the bot's name at Viber

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def send(self, out: Outbound) -> Outcome:
        if not out.address:
            return Unreachable("NO_USER_ID")
        if len(out.text) > MAX_TEXT:
            return Failed("TEXT_TOO_LONG")
        keyboard = None
        if out.message_type == "viber_survey" and out.content.survey:
            keyboard = survey_keyboard(out.content.survey)
        body = _TextMessage(
            receiver=out.address,
            min_api_version=1,
            sender=_SenderInfo(name=out.from_name[:MAX_SENDER_NAME]),
            tracking_data=out.message_id[:MAX_TRACKING_DATA],
            type="text",
            text=out.text,
            keyboard=keyboard,
        )
        try:
            answer = await self._call(out.sender, "send_message", body)
        except httpx.HTTPError as exc:
            log.warning(
                "viber send_message failed: %s (attempt %s)", type(exc).__name__, out.attempt_id
            )
            return transport_outcome(exc)
        except _HttpStatus as exc:
            return exc.outcome
        if answer is None or (answer.status == 0 and answer.message_token is None):
            # HTTP 200 that we cannot read: the message may have been accepted
            return InDoubt("BAD_RESPONSE")
        outcome = outcome_for_status(answer.status, str(answer.message_token or ""))
        if not isinstance(outcome, Sent):
            log.info(
                "viber send_message status %d (%s) for attempt %s",
                answer.status,
                answer.status_message[:200],
                out.attempt_id,
            )
        return outcome

    # --- chats ---------------------------------------------------------------------------

    async def send_chat_text(
        self, sender: Sender, address: str, text: str, *, from_name: str = ""
    ) -> ChatSent:
        """An operator's text to the Viber user `address`; `from_name` is shown as the
        sender (the bot's own name when empty)."""
        if not text or len(text) > MAX_TEXT:
            return chat_sent(Failed("TEXT_EMPTY" if not text else "TEXT_TOO_LONG"))
        return await self._send_chat(sender, address, from_name, "text", text=text)

    async def send_chat_picture(
        self, sender: Sender, address: str, url: str, caption: str = "", *, from_name: str = ""
    ) -> ChatSent:
        """A `picture` message: Viber fetches the image from `url`, a public URL whose last
        path segment ends in .jpeg, .jpg, .png or .gif."""
        # a picture's text is required, and may be empty
        return await self._send_chat(sender, address, from_name, "picture", text=caption, media=url)

    async def send_chat_file(
        self,
        sender: Sender,
        address: str,
        url: str,
        name: str,
        size: int,
        *,
        from_name: str = "",
    ) -> ChatSent:
        """A `file` message: Viber fetches the file from the public `url`; `name` (with its
        extension) and `size` in bytes are shown to the person."""
        if size > MAX_FILE:
            return chat_sent(Failed("MEDIA_TOO_LARGE"))
        return await self._send_chat(
            sender,
            address,
            from_name,
            "file",
            media=url,
            size=size,
            file_name=name[-MAX_FILE_NAME:],  # the end keeps the extension
        )

    async def send_chat_media(
        self,
        sender: Sender,
        address: str,
        media: OutgoingMedia,
        caption: str = "",
        *,
        from_name: str = "",
    ) -> ChatSent:
        """An operator's image (a `picture`) or any other file (a `file`, whose message
        carries no caption: a caption then goes first as a text). Needs `media.url`."""
        if not media.url:
            return chat_sent(Failed("MEDIA_URL_MISSING"))  # Viber takes media by URL only
        if media.is_image:
            return await self.send_chat_picture(
                sender, address, media.url, caption, from_name=from_name
            )
        if caption:
            said = await self.send_chat_text(sender, address, caption, from_name=from_name)
            if said.status is ChatMessageStatus.REJECTED:
                return said
        return await self.send_chat_file(
            sender, address, media.url, media.name, len(media.data), from_name=from_name
        )

    async def fetch_media(
        self, sender: Sender, media: MediaRef, limit: int = MAX_MEDIA_BYTES
    ) -> FetchedMedia:
        """A person's picture, file or video from the URL its callback gave. Raises
        `MediaFetchError` (`MediaTooLarge` above `limit`)."""
        data, served = await download(self._client, media.ref, limit=limit, known_size=media.size)
        log.debug("viber media fetched for bot %s: %d bytes", sender.id, len(data))
        return FetchedMedia(data=data, mime=media.mime or served or _OCTETS, name=media.name)

    async def _sender_info(self, sender: Sender, from_name: str) -> _SenderInfo:
        name = from_name.strip() or await self._account_name(sender)
        return _SenderInfo(name=name[:MAX_SENDER_NAME])

    async def _account_name(self, sender: Sender) -> str:
        """The bot's name as Viber has it (asked once per bot): Viber wants a sender name
        on every message, and a chat's answer has no campaign name to give."""
        name = self._names.get(sender.token)
        if name is None:
            try:
                info = await self.get_account_info(sender)
            except (ViberApiError, httpx.HTTPError, _HttpStatus):
                return _FALLBACK_NAME  # the send itself will say what is wrong
            name = str(info.get("name") or _FALLBACK_NAME)
            self._names[sender.token] = name
        return name

    async def _send_chat(
        self, sender: Sender, address: str, from_name: str, kind: str, **fields: Any
    ) -> ChatSent:
        body = _ChatMessage(
            receiver=address,
            min_api_version=1,
            sender=await self._sender_info(sender, from_name),
            type=kind,
            **fields,
        )
        try:
            answer = await self._call(sender, "send_message", body)
        except httpx.HTTPError as exc:
            return chat_sent(transport_outcome(exc))
        except _HttpStatus as exc:
            return chat_sent(exc.outcome)
        if answer is None or (answer.status == 0 and answer.message_token is None):
            return chat_sent(InDoubt("BAD_RESPONSE"))
        sent = chat_sent(outcome_for_status(answer.status, str(answer.message_token or "")))
        log.debug("viber chat %s for bot %s: %s", body.type, sender.id, sent.status.name)
        return sent

    async def set_webhook(
        self, sender: Sender, url: str, event_types: list[str] | None = None
    ) -> list[str]:
        """Point the bot's callbacks at `url` (an empty `url` removes the webhook).

        Viber checks the URL by POSTing a signed `webhook` event to it before answering.
        Returns the event types Viber will send; raises `ViberApiError` otherwise.
        """
        # Chats show an operator the person's name; Cascade asks Viber for no photos.
        body: dict[str, Any] = {"url": url, "send_name": True, "send_photo": False}
        if event_types is not None:
            body["event_types"] = event_types
        answer = await self._checked_call(sender, "set_webhook", body)
        return list(answer.event_types or [])

    async def get_account_info(self, sender: Sender) -> dict[str, Any]:
        """The bot's account details (name, webhook, subscribers count); checks the token."""
        raw = await self._raw_call(sender, "get_account_info", {})
        answer = _decode_answer(raw)
        if answer is None:
            raise ViberApiError(-1, "unreadable answer")
        if answer.status != 0:
            raise ViberApiError(answer.status, answer.status_message)
        info: dict[str, Any] = msgspec.json.decode(raw)
        return info

    # --- plumbing ---------------------------------------------------------------------

    async def _checked_call(self, sender: Sender, method: str, body: object) -> _Answer:
        try:
            answer = await self._call(sender, method, body)
        except _HttpStatus as exc:
            raise ViberApiError(-1, f"HTTP {exc.http_status}") from None
        if answer is None:
            raise ViberApiError(-1, "unreadable answer")
        if answer.status != 0:
            raise ViberApiError(answer.status, answer.status_message)
        return answer

    async def _call(self, sender: Sender, method: str, body: object) -> _Answer | None:
        return _decode_answer(await self._raw_call(sender, method, body))

    async def _raw_call(self, sender: Sender, method: str, body: object) -> bytes:
        response = await self._client.post(
            f"{self._base_url}/pa/{method}",
            content=msgspec.json.encode(body),
            headers={"X-Viber-Auth-Token": sender.token, "Content-Type": "application/json"},
        )
        if response.status_code != 200:
            log.warning("viber %s answered HTTP %d", method, response.status_code)
            raise _HttpStatus(response)
        return response.content


def _decode_answer(raw: bytes) -> _Answer | None:
    try:
        return msgspec.json.decode(raw, type=_Answer)
    except (msgspec.DecodeError, msgspec.ValidationError):
        log.warning("viber answered with an unreadable body (%d bytes)", len(raw))
        return None


class _HttpStatus(Exception):
    """A non-200 HTTP answer, already translated into an outcome for `send`."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.http_status = response.status_code
        self.outcome = _outcome_for_http(response)


def _outcome_for_http(response: httpx.Response) -> Outcome:
    code = response.status_code
    if code >= 500:
        return Retry(f"HTTP_{code}")
    if code == 429:
        return Throttled(retry_after_s=_retry_after(response), reason="HTTP_429")
    if 300 <= code < 400 or code in (401, 403, 404):
        # Viber itself answers with a status inside a 200; these mean the base URL or a
        # proxy in between is wrong, which only the operator can fix.
        return Misconfigured(f"HTTP_{code}")
    return Failed(f"HTTP_{code}")


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(float(response.headers.get("Retry-After", "")), THROTTLE_PAUSE_S)
    except ValueError:
        return THROTTLE_PAUSE_S
