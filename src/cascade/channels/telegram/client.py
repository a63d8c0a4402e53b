"""Sending through the Telegram Bot API, and what each of its answers means for a cascade.

Every call is `POST {base}/bot{token}/{method}` with a JSON body, answered by
`{"ok": true, "result": ...}` or `{"ok": false, "error_code": ..., "description": ...,
"parameters": {"retry_after": ...}}`. Telegram has no delivery receipts: the API
accepting a message is delivery.

The token is part of every URL, so it must never reach a log line or an outcome reason:
errors are reported by kind, never by their text, and httpx's own request log is passed
through a filter that redacts bot tokens.

Chats (ChatHub) use the same client: an operator's text goes by `sendMessage`, a photo by
`sendPhoto` and any other file by `sendDocument`, both uploaded as multipart/form-data
(the bytes are Cascade's, never a URL); a person's media comes back by `getFile` and a
GET of `{base}/file/bot{token}/{file_path}`.
"""

from __future__ import annotations

import logging
import mimetypes
import re
from typing import Any

import httpx
import msgspec

from cascade.channels.bot_chat import (
    MAX_MEDIA_BYTES,
    ChatSent,
    FetchedMedia,
    MediaFetchError,
    MediaTooLarge,
    OutgoingMedia,
    chat_sent,
    download,
)
from cascade.channels.http import transport_outcome
from cascade.channels.telegram.webhook import ALLOWED_UPDATES, CHANNEL, survey_markup
from cascade.channels.transport import provider_client
from cascade.domain.content import ContentKind
from cascade.domain.events import MediaRef
from cascade.domain.sending import (
    Delivered,
    Failed,
    Limits,
    Misconfigured,
    Outbound,
    Outcome,
    Retry,
    Sender,
    Throttled,
    Unreachable,
)

DEFAULT_BASE_URL = "https://api.telegram.org"

MAX_CAPTION = 1024  # characters, after entity parsing
MAX_PHOTO_UPLOAD = 10 * 1024 * 1024  # a larger image goes as a document
MAX_UPLOAD = 50 * 1024 * 1024  # any file a bot uploads

LIMITS = Limits(
    max_text=4096,
    per_sender_per_second=30.0,  # Bot API: about 30 messages/s per bot
    per_recipient_per_second=1.0,  # and about 1 message/s per chat
    confirms_delivery=False,
    delivery_window_s=0,  # nothing to wait for: acceptance is delivery
    carries=frozenset({ContentKind.TEXT, ContentKind.SURVEY}),  # options as an inline keyboard
    bot_no_contact="NO_CHAT",  # a recipient is known only once they shared their phone
)


_log = logging.getLogger(__name__)

# --- keeping tokens out of logs -----------------------------------------------------------------

_TOKEN_IN_URL = re.compile(r"/bot[^/\s\"']+")
_TOKEN_IN_QUERY = re.compile(r"([?&]bot=)[^&\s\"']+")  # the simulator's admin calls


def redact(text: str) -> str:
    """`text` with every `/bot<token>` path segment replaced by `/bot<redacted>`."""
    return _TOKEN_IN_QUERY.sub(r"\1<redacted>", _TOKEN_IN_URL.sub("/bot<redacted>", text))


class _RedactTokens(logging.Filter):
    """httpx logs every request's URL at INFO; the URL holds the bot token."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def _install_redaction() -> None:
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactTokens) for f in logger.filters):
            logger.addFilter(_RedactTokens())


_install_redaction()

# --- answers ----------------------------------------------------------------------------------


class _Parameters(msgspec.Struct, frozen=True):
    retry_after: float | None = None
    migrate_to_chat_id: int | None = None


class _Answer(msgspec.Struct, frozen=True):
    ok: bool
    result: Any = None
    error_code: int | None = None
    description: str = ""
    parameters: _Parameters | None = None


_answer_decoder = msgspec.json.Decoder(_Answer)


def _decode(body: bytes) -> _Answer | None:
    try:
        return _answer_decoder.decode(body)
    except msgspec.DecodeError:
        return None  # a proxy's HTML error page, a truncated body


class TelegramApiError(Exception):
    """A Bot API call other than sendMessage failed (setWebhook, getMe)."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(f"Telegram Bot API error {status}: {description}")
        self.status = status
        self.description = description


def _retry_after(answer: _Answer | None, headers: httpx.Headers) -> float:
    if answer is not None and answer.parameters and answer.parameters.retry_after is not None:
        return max(float(answer.parameters.retry_after), 0.0)
    try:
        return max(float(headers.get("retry-after", "")), 0.0)
    except ValueError:
        return 1.0


def outcome_for(status: int, body: bytes, headers: httpx.Headers | None = None) -> Outcome:
    """What one sendMessage answer means: the whole mapping, in one place."""
    answer = _decode(body)
    description = answer.description if answer else ""
    lowered = description.lower()
    if 200 <= status < 300 and (answer is None or answer.ok):
        message_id = ""
        if answer is not None and isinstance(answer.result, dict):
            message_id = str(answer.result.get("message_id", ""))
        # A 2xx whose body we cannot read still means Telegram took the message; sending it
        # again would deliver it twice.
        return Delivered(message_id)
    if status == 429:
        return Throttled(_retry_after(answer, headers or httpx.Headers()))
    if status in (401, 404):
        return Misconfigured("INVALID_TOKEN")
    if status == 403:
        if "blocked" in lowered or "deactivated" in lowered or "kicked" in lowered:
            return Unreachable("BLOCKED", blocked=True)
        if "initiate conversation" in lowered:
            return Unreachable("NO_CHAT")  # the user never started the bot
        return Unreachable("FORBIDDEN")
    if status == 400 and ("chat not found" in lowered or "user not found" in lowered):
        return Unreachable("NO_CHAT")
    if status >= 500 or status == 408:  # 408: a proxy on the way timed out
        return Retry(f"HTTP_{status}")
    return Failed(f"REJECTED: {description or f'HTTP {status}'}")


# --- the channel ------------------------------------------------------------------------------


class TelegramChannel:
    """The `telegram` channel: one pooled HTTP client for every bot it sends for."""

    name = CHANNEL
    limits = LIMITS

    def __init__(
        self, base_url: str = DEFAULT_BASE_URL, client: httpx.AsyncClient | None = None
    ) -> None:
        self._base = base_url.rstrip("/")
        self._owns_client = client is None
        self._client = client or provider_client()

    def _url(self, sender: Sender, method: str) -> str:
        return f"{self._base}/bot{sender.token}/{method}"

    async def send(self, out: Outbound) -> Outcome:
        if not out.sender.token:
            return Misconfigured("INVALID_TOKEN")
        if not out.address:
            return Unreachable("NO_CHAT")  # no chat learnt for this phone yet
        payload: dict[str, Any] = {"chat_id": out.address, "text": out.text}
        if out.content.survey:
            payload["reply_markup"] = survey_markup(out.content.survey, out.message_id)
        outcome = await self._send_json(out.sender, "sendMessage", payload)
        _log.debug(
            "telegram send attempt=%s bot=%s outcome=%s",
            out.attempt_id,
            out.sender.id,
            type(outcome).__name__,
        )
        return outcome

    async def _send_json(self, sender: Sender, method: str, payload: dict[str, Any]) -> Outcome:
        return await self._outcome(
            self._url(sender, method),
            content=msgspec.json.encode(payload),
            headers={"content-type": "application/json"},
        )

    async def _outcome(self, url: str, **request: Any) -> Outcome:
        """POST one send and read its answer: the whole of what can come of it."""
        try:
            response = await self._client.post(url, **request)
        except httpx.InvalidURL:
            return Misconfigured("INVALID_BASE_URL")
        except httpx.HTTPError as error:
            return transport_outcome(error)
        return outcome_for(response.status_code, response.content, response.headers)

    # --- chats -----------------------------------------------------------------------------

    async def send_chat_text(self, sender: Sender, address: str, text: str) -> ChatSent:
        """An operator's text to the person in chat `address` (`sendMessage`)."""
        if not sender.token:
            return chat_sent(Misconfigured("INVALID_TOKEN"))
        if not text or len(text) > LIMITS.max_text:
            return chat_sent(Failed("TEXT_EMPTY" if not text else "TEXT_TOO_LONG"))
        sent = chat_sent(
            await self._send_json(sender, "sendMessage", {"chat_id": address, "text": text})
        )
        _log.debug("telegram chat text bot=%s status=%s", sender.id, sent.status.name)
        return sent

    async def send_chat_media(
        self, sender: Sender, address: str, media: OutgoingMedia, caption: str = ""
    ) -> ChatSent:
        """An operator's image (`sendPhoto`) or any other file (`sendDocument`, also an
        image too large for a photo), its bytes uploaded as multipart/form-data."""
        if media.is_image and len(media.data) <= MAX_PHOTO_UPLOAD:
            return await self.send_chat_photo(sender, address, media, caption)
        return await self.send_chat_document(sender, address, media, caption)

    async def send_chat_photo(
        self, sender: Sender, address: str, media: OutgoingMedia, caption: str = ""
    ) -> ChatSent:
        return await self._upload(sender, "sendPhoto", "photo", address, media, caption)

    async def send_chat_document(
        self, sender: Sender, address: str, media: OutgoingMedia, caption: str = ""
    ) -> ChatSent:
        return await self._upload(sender, "sendDocument", "document", address, media, caption)

    async def _upload(
        self,
        sender: Sender,
        method: str,
        field: str,
        address: str,
        media: OutgoingMedia,
        caption: str,
    ) -> ChatSent:
        if not sender.token:
            return chat_sent(Misconfigured("INVALID_TOKEN"))
        limit = MAX_PHOTO_UPLOAD if field == "photo" else MAX_UPLOAD
        refused = _refuse_upload(media, caption, limit)
        if refused is not None:
            return chat_sent(Failed(refused))
        form = {"chat_id": address}
        if caption:
            form["caption"] = caption
        outcome = await self._outcome(
            self._url(sender, method),
            data=form,
            files={field: (media.name, media.data, media.mime)},
        )
        sent = chat_sent(outcome)
        _log.debug("telegram chat %s bot=%s status=%s", method, sender.id, sent.status.name)
        return sent

    async def fetch_media(
        self, sender: Sender, media: MediaRef, limit: int = MAX_MEDIA_BYTES
    ) -> FetchedMedia:
        """A person's photo, document, voice note or video: `getFile` for its path, then
        the file's bytes. Raises `MediaFetchError` (`MediaTooLarge` above `limit`)."""
        if media.size is not None and media.size > limit:
            raise MediaTooLarge(media.size, limit)
        try:
            found = await self._call(sender, "getFile", {"file_id": media.ref})
        except TelegramApiError as error:
            raise MediaFetchError(f"MEDIA_UNAVAILABLE: getFile {error.status}") from None
        try:
            file = msgspec.convert(found, type=_File)
        except msgspec.ValidationError:
            raise MediaFetchError("MEDIA_UNAVAILABLE: getFile gave no File") from None
        if not file.file_path:
            # Telegram gives no path for a file larger than a bot may download (20 MB)
            raise MediaFetchError("MEDIA_UNAVAILABLE: getFile gave no file_path")
        url = f"{self._base}/file/bot{sender.token}/{file.file_path}"
        data, served = await download(self._client, url, limit=limit, known_size=file.file_size)
        _log.debug("telegram media fetched bot=%s bytes=%d", sender.id, len(data))
        mime = media.mime or _guess(file.file_path) or served or "application/octet-stream"
        return FetchedMedia(data=data, mime=mime, name=media.name)

    async def _call(self, sender: Sender, method: str, params: dict[str, Any]) -> Any:
        """One Bot API call whose result is needed; raises `TelegramApiError` otherwise."""
        try:
            response = await self._client.post(
                self._url(sender, method),
                content=msgspec.json.encode(params),
                headers={"content-type": "application/json"},
            )
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            raise TelegramApiError(0, type(error).__name__) from None
        answer = _decode(response.content)
        if answer is None or not answer.ok:
            description = answer.description if answer else "unreadable answer"
            raise TelegramApiError(response.status_code, redact(description))
        return answer.result

    async def set_webhook(self, sender: Sender, url: str) -> None:
        """Point the bot's updates at `url`, signed with the sender's webhook secret."""
        params: dict[str, Any] = {"url": url, "allowed_updates": list(ALLOWED_UPDATES)}
        if sender.webhook_secret:
            params["secret_token"] = sender.webhook_secret
        await self._call(sender, "setWebhook", params)

    async def get_me(self, sender: Sender) -> dict[str, Any]:
        """The bot's own `User` object: proves the token is valid."""
        result = await self._call(sender, "getMe", {})
        if not isinstance(result, dict):
            raise TelegramApiError(200, "getMe returned no user")
        return result

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()


# --- chat helpers -----------------------------------------------------------------------------


class _File(msgspec.Struct, frozen=True):
    """The Bot API's `File`, as `getFile` answers it."""

    file_id: str
    file_size: int | None = None
    file_path: str | None = None


def _refuse_upload(media: OutgoingMedia, caption: str, limit: int) -> str | None:
    if not media.data:
        return "MEDIA_EMPTY"
    if len(media.data) > limit:
        return "MEDIA_TOO_LARGE"
    if len(caption) > MAX_CAPTION:
        return "CAPTION_TOO_LONG"
    return None


def _guess(path: str) -> str | None:
    kind, _ = mimetypes.guess_type(path)
    return kind
