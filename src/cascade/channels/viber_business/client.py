"""Sending Viber Business Messages through the Vonage Messages API (`POST /v1/messages`).

One request per message, addressed by phone number (`to`, E.164 without the '+') from the
account's Viber service id (`from`). `viber_service.category` is Viber's
transactional/promotional label, `viber_service.ttl` the message's remaining TTL, and a
promo's image and button go out as an `image` message with the text as its caption and an
`action` button. A file with a text is two requests, the file and then the text (Vonage's
`file` message carries no caption: `build_messages`, `file_then_text`). Vonage answers 202
with a `message_uuid`; delivery (and reading) is
reported later by the status webhook (`webhook.py`). Refusals come back as RFC 7807 bodies
whose numeric code `codes.py` turns into an outcome.

The account's `api_key:api_secret` travel only in the Basic `Authorization` header and
are never logged.
"""

from __future__ import annotations

import base64
import logging
import re
from typing import Final

import httpx
import msgspec

from cascade.channels.base import Inbound, WebhookReply, WebhookRoute
from cascade.channels.http import transport_outcome
from cascade.channels.transport import provider_client
from cascade.channels.viber_business import partner
from cascade.channels.viber_business.codes import THROTTLE_PAUSE_S, code_from, outcome_for_code
from cascade.channels.viber_business.webhook import CHANNEL, PROVIDER_CHANNEL, handle_webhook
from cascade.domain.content import ContentKind, MediaKind
from cascade.domain.sending import (
    Delivered,
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

NAME: Final = CHANNEL
DEFAULT_BASE_URL: Final = "https://api.nexmo.com"
MESSAGES_PATH: Final = "/v1/messages"

# Viber Business Messages carry at most 1,000 characters of text; Vonage takes a TTL of
# 30 s to 3 days for `viber_service`, and a button label of up to 30 characters.
MAX_TEXT: Final = 1000
MIN_TTL_S: Final = 30
MAX_TTL_S: Final = 259_200
MAX_BUTTON_TEXT: Final = 30
MAX_SERVICE_ID: Final = 50
MAX_THUMB_URL: Final = 1000
MAX_VIDEO_BYTES: Final = 200_000_000  # 200 MB
MAX_VIDEO_S: Final = 600
MAX_FILE_NAME: Final = 25

VONAGE_CARRIES: Final = frozenset(
    {ContentKind.TEXT, ContentKind.IMAGE, ContentKind.VIDEO, ContentKind.FILE, ContentKind.BUTTONS}
)

LIMITS: Final = Limits(
    max_text=MAX_TEXT,
    per_sender_per_second=None,  # Vonage answers 429 when the account's rate is exceeded
    per_recipient_per_second=None,
    confirms_delivery=True,  # the `delivered` status webhook
    delivery_window_s=600,
    # text, image, video, file and a button through Vonage; a survey (a list of quick
    # replies), a carousel and an OTP template through Viber's own API (`partner.py`)
    carries=VONAGE_CARRIES | {ContentKind.SURVEY, ContentKind.CAROUSEL, ContentKind.TEMPLATE},
)

_DIGITS = re.compile(r"[1-9][0-9]{6,14}")


# --- the request body ------------------------------------------------------------------------


class _Action(msgspec.Struct):
    url: str
    text: str


class _ViberService(msgspec.Struct, omit_defaults=True):
    category: str
    ttl: int
    action: _Action | None = None
    duration: str | None = None  # a video's, in seconds (Vonage takes a string)
    file_size: str | None = None  # a video's, in MB


class _Image(msgspec.Struct, omit_defaults=True):
    url: str
    caption: str | None = None


class _ViberVideo(msgspec.Struct, omit_defaults=True):
    url: str
    thumb_url: str
    caption: str | None = None


class _ViberFile(msgspec.Struct, omit_defaults=True):
    url: str
    name: str | None = None


class _Message(msgspec.Struct, kw_only=True, omit_defaults=True, rename={"from_": "from"}):
    message_type: str
    to: str
    from_: str
    channel: str
    client_ref: str
    viber_service: _ViberService
    text: str | None = None
    image: _Image | None = None
    video: _ViberVideo | None = None
    file: _ViberFile | None = None


class _Accepted(msgspec.Struct):
    message_uuid: str


class _Problem(msgspec.Struct):
    """An RFC 7807 error body (fields we do not use are ignored)."""

    type: str | None = None
    title: str | int | None = None
    detail: str | None = None


def category_for(message_type: str) -> str:
    """Viber's label: promotions are `promotion`, everything else is `transaction`."""
    return "promotion" if message_type == "promo" else "transaction"


def _megabytes(size_bytes: int) -> str:
    """A video's size as Vonage takes it: whole megabytes, at least 1."""
    return str(max(1, -(-size_bytes // 1_000_000)))


def _action(out: Outbound) -> _Action | None:
    button = out.content.url_button()
    if button is None or not button[0]:
        return None
    return _Action(url=button[1], text=button[0][:MAX_BUTTON_TEXT])


def build_message(out: Outbound, service_id: str, ttl: int) -> _Message | Failed:
    """The `POST /v1/messages` body for `out`: a text, an image or a video with the text as
    its caption, or a file (which carries no text: `build_messages` adds one); `Failed`
    with the limit it breaks when Vonage would refuse it."""
    options = _ViberService(category=category_for(out.message_type), ttl=ttl, action=_action(out))
    message = _Message(
        message_type="text",
        to=(out.address or out.phone).removeprefix("+"),
        from_=service_id,
        channel=PROVIDER_CHANNEL,
        client_ref=out.attempt_id,
        viber_service=options,
    )
    media, caption = out.content.media, out.text or None
    if media is None:
        return msgspec.structs.replace(message, text=out.text)
    if media.kind is MediaKind.IMAGE:
        image = _Image(url=media.url, caption=caption)
        return msgspec.structs.replace(message, message_type="image", image=image)
    if media.kind is MediaKind.VIDEO:
        if not media.thumbnail_url or len(media.thumbnail_url) > MAX_THUMB_URL:
            return Failed("VIDEO_THUMBNAIL")
        if media.size_bytes is None or media.duration_s is None:
            return Failed("VIDEO_SIZE_AND_DURATION")
        if media.size_bytes > MAX_VIDEO_BYTES or not 1 <= media.duration_s <= MAX_VIDEO_S:
            return Failed("VIDEO_TOO_LARGE")
        options = msgspec.structs.replace(
            options, duration=str(media.duration_s), file_size=_megabytes(media.size_bytes)
        )
        video = _ViberVideo(url=media.url, thumb_url=media.thumbnail_url, caption=caption)
        return msgspec.structs.replace(
            message, message_type="video", video=video, viber_service=options
        )
    name = media.file_name
    if name is not None and media.file_type and "." not in name:
        name = f"{name}.{media.file_type}"
    if name is not None and len(name) > MAX_FILE_NAME:
        return Failed("FILE_NAME_TOO_LONG")
    return msgspec.structs.replace(message, message_type="file", file=_ViberFile(media.url, name))


def build_messages(
    out: Outbound, service_id: str, ttl: int
) -> tuple[_Message] | tuple[_Message, _Message] | Failed:
    """What `out` goes out as: one message; or, for a file with a text, the file and then
    the text (with the button, if any), both under the attempt's `client_ref`. Vonage's
    `file` message takes only `url` and `name`, no caption, so the text cannot ride with
    it. Both bodies are built, and checked, before either is sent."""
    first = build_message(out, service_id, ttl)
    if isinstance(first, Failed) or first.file is None or not out.text:
        return first if isinstance(first, Failed) else (first,)
    file = msgspec.structs.replace(
        first, viber_service=msgspec.structs.replace(first.viber_service, action=None)
    )
    text = msgspec.structs.replace(first, message_type="text", file=None, text=out.text)
    return (file, text)


def file_then_text(file: Sent, text: Outcome) -> Outcome:
    """The step's outcome once the file was taken and the text's answer came.

    Both taken: one `Sent` of two parts (the file's id first), so the step is delivered
    when both are reported delivered and fails when either is reported failed. The
    text's answer lost: the step is in doubt (never repeated: the file would go twice).
    The text not taken: the step fails `TEXT_NOT_SENT:<why>` — never retried, for the
    file already went — and the next step (a fallback) carries the message.
    """
    match text:
        case Sent(provider_id) | Delivered(provider_id):
            return Sent(file.provider_id, parts=2, part_ids=(file.provider_id, provider_id))
        case InDoubt(reason):
            return InDoubt(f"TEXT_{reason}")
        case Unreachable(reason) | Failed(reason) | Retry(reason) | Misconfigured(reason):
            return Failed(f"TEXT_NOT_SENT:{reason}")
        case Throttled(_, reason):
            return Failed(f"TEXT_NOT_SENT:{reason}")


# --- the channel ---------------------------------------------------------------------------------


class ViberBusinessChannel:
    """The `viber_business` channel over Vonage: one pooled HTTP client for every account.

    A sender (the provider account) carries `api_key:api_secret` as its token and the
    account's signature secret as its webhook secret; a third `:service_id` part names
    the account's Viber service id. The constructor's values are the installation's
    account, used for whatever a sender leaves out.
    """

    name: str = NAME
    limits: Limits = LIMITS

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str = "",
        api_secret: str = "",
        service_id: str = "",
        signature_secret: str = "",
        client: httpx.AsyncClient | None = None,
        *,
        partner_url: str = partner.DEFAULT_PARTNER_URL,
        partner_service_id: int = 0,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._api_secret = api_secret
        self._service_id = service_id
        self._signature_secret = signature_secret
        self._partner_url = partner_url
        self._partner_service_id = partner_service_id
        self._owns_client = client is None
        self._client = client if client is not None else provider_client()
        self.routes: tuple[WebhookRoute, ...] = (WebhookRoute(CHANNEL, self._handle_webhook),)

    def __repr__(self) -> str:  # never the credentials
        return f"ViberBusinessChannel(base_url={self._base_url!r})"

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def _handle_webhook(self, inbound: Inbound) -> WebhookReply:
        # A sender without a signature secret of its own is the installation's account.
        return await handle_webhook(inbound, fallback_secret=self._signature_secret)

    def _account(self, sender: Sender) -> tuple[str, str, str]:
        key, _, rest = sender.token.partition(":")
        secret, _, service_id = rest.partition(":")
        if not (key and secret):
            key, secret = self._api_key, self._api_secret
        return key, secret, service_id or self._service_id

    async def send(self, out: Outbound) -> Outcome:
        if partner.carried_here(out.content):
            if self._partner_service_id:
                return await self._send_to_viber(out)
            # no account at Viber's own API: what Vonage can show of it (a survey's
            # numbered lines, a carousel's titles and links); a template, nothing
            folded = out.content.fit(VONAGE_CARRIES)
            if folded is None:
                return Misconfigured("NO_PARTNER_SERVICE_ID")
            out = msgspec.structs.replace(out, content=folded)
        key, secret, service_id = self._account(out.sender)
        if not (key and secret):
            return Misconfigured("NO_CREDENTIALS")
        if not service_id or len(service_id) > MAX_SERVICE_ID:
            return Misconfigured("NO_SERVICE_ID")
        if not _DIGITS.fullmatch((out.address or out.phone).removeprefix("+")):
            return Failed("INVALID_NUMBER")
        if len(out.text) > MAX_TEXT:
            return Failed("TEXT_TOO_LONG")
        if not out.text and out.content.media is None:
            return Failed("EMPTY_MESSAGE")
        if out.ttl_remaining_s < MIN_TTL_S:
            # Vonage refuses a shorter TTL (1130); a longer one would outlive the message.
            return Failed("TTL_TOO_SHORT")
        ttl = min(out.ttl_remaining_s, MAX_TTL_S)
        messages = build_messages(out, service_id, ttl)
        if isinstance(messages, Failed):
            return messages
        basic = base64.b64encode(f"{key}:{secret}".encode()).decode("ascii")
        first = await self._post(messages[0], basic, out.attempt_id)
        if len(messages) == 1 or not isinstance(first, Sent):
            return first
        # the file was taken: its text follows (`file_then_text` says what the step is)
        return file_then_text(first, await self._post(messages[1], basic, out.attempt_id))

    async def _post(self, message: _Message, basic: str, attempt_id: str) -> Outcome:
        try:
            response = await self._client.post(
                f"{self._base_url}{MESSAGES_PATH}",
                content=msgspec.json.encode(message),
                headers={
                    "Authorization": f"Basic {basic}",
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                },
            )
        except httpx.HTTPError as exc:
            log.warning("vonage send failed: %s (attempt %s)", type(exc).__name__, attempt_id)
            return transport_outcome(exc)
        outcome = _outcome(response)
        if not isinstance(outcome, Sent):
            log.info(
                "vonage answered HTTP %d (%s) for the %s of attempt %s",
                response.status_code,
                type(outcome).__name__,
                message.message_type,
                attempt_id,
            )
        return outcome

    async def _send_to_viber(self, out: Outbound) -> Outcome:
        """A survey, a carousel or a template, through Viber's own partner API."""
        dest = (out.address or out.phone).removeprefix("+")
        if not _DIGITS.fullmatch(dest):
            return Failed("INVALID_NUMBER")
        if out.ttl_remaining_s < MIN_TTL_S:
            return Failed("TTL_TOO_SHORT")
        body = partner.build_send_message(
            out.content,
            service_id=self._partner_service_id,
            dest=dest,
            attempt_id=out.attempt_id,
            label=category_for(out.message_type),
            ttl=out.ttl_remaining_s,
        )
        if isinstance(body, Failed):
            return body
        return await partner.send_message(self._client, self._partner_url, body, out.attempt_id)


def _outcome(response: httpx.Response) -> Outcome:
    code = response.status_code
    if 200 <= code < 300:
        try:
            accepted = msgspec.json.decode(response.content, type=_Accepted)
        except (msgspec.DecodeError, msgspec.ValidationError):
            accepted = None
        if accepted is None or not accepted.message_uuid:
            # A 2xx we cannot read may still be an accepted message: never repeated.
            return InDoubt("BAD_RESPONSE")
        return Sent(accepted.message_uuid)
    if code >= 500:
        return Retry(f"HTTP_{code}")
    if code == 429:
        return Throttled(retry_after_s=_retry_after(response), reason="THROTTLED")
    if code == 401:
        return Misconfigured("UNAUTHORIZED")
    if code == 402:
        return Misconfigured("LOW_BALANCE")
    if code == 403:
        return Misconfigured("FORBIDDEN")
    if 300 <= code < 400 or code in (404, 405):
        return Misconfigured(f"HTTP_{code}")  # the base URL (or a proxy) is wrong
    problem = _problem(response.content)
    error_code = code_from(problem.type, problem.title) if problem is not None else None
    if error_code is None:
        return Failed(f"HTTP_{code}")
    return outcome_for_code(error_code, _retry_after(response))


def _problem(raw: bytes) -> _Problem | None:
    try:
        return msgspec.json.decode(raw, type=_Problem)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(float(response.headers.get("Retry-After", "")), THROTTLE_PAUSE_S)
    except ValueError:
        return THROTTLE_PAUSE_S
