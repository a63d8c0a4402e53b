"""Sending through the Telegram Bot API, and what each of its answers means for a cascade.

Every call is `POST {base}/bot{token}/{method}` with a JSON body, answered by
`{"ok": true, "result": ...}` or `{"ok": false, "error_code": ..., "description": ...,
"parameters": {"retry_after": ...}}`. Telegram has no delivery receipts: the API
accepting a message is delivery.

The token is part of every URL, so it must never reach a log line or an outcome reason:
errors are reported by kind, never by their text, and httpx's own request log is passed
through a filter that redacts bot tokens.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx
import msgspec

from cascade.channels.http import transport_outcome
from cascade.channels.telegram.webhook import ALLOWED_UPDATES, CHANNEL, survey_markup
from cascade.channels.transport import provider_client
from cascade.domain.content import ContentKind
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
        try:
            response = await self._client.post(
                self._url(out.sender, "sendMessage"),
                content=msgspec.json.encode(payload),
                headers={"content-type": "application/json"},
            )
        except httpx.InvalidURL:
            outcome: Outcome = Misconfigured("INVALID_BASE_URL")
        except httpx.HTTPError as error:
            outcome = transport_outcome(error)
        else:
            outcome = outcome_for(response.status_code, response.content, response.headers)
        _log.debug(
            "telegram send attempt=%s bot=%s outcome=%s",
            out.attempt_id,
            out.sender.id,
            type(outcome).__name__,
        )
        return outcome

    async def _call(self, sender: Sender, method: str, params: dict[str, Any]) -> Any:
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
