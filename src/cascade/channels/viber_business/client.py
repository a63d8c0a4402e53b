"""Sending Viber Business Messages through the Vonage Messages API (`POST /v1/messages`).

One request per message, addressed by phone number (`to`, E.164 without the '+') from the
account's Viber service id (`from`). `viber_service.category` is Viber's
transactional/promotional label, `viber_service.ttl` the message's remaining TTL, and a
promo's image and button go out as an `image` message with the text as its caption and an
`action` button. Vonage answers 202 with a `message_uuid`; delivery (and reading) is
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
from cascade.channels.viber_business.codes import THROTTLE_PAUSE_S, code_from, outcome_for_code
from cascade.channels.viber_business.webhook import CHANNEL, PROVIDER_CHANNEL, handle_webhook
from cascade.domain.content import ContentKind
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

LIMITS: Final = Limits(
    max_text=MAX_TEXT,
    per_sender_per_second=None,  # Vonage answers 429 when the account's rate is exceeded
    per_recipient_per_second=None,
    confirms_delivery=True,  # the `delivered` status webhook
    delivery_window_s=600,
    # business messages have no reply keyboard: a survey goes as numbered lines
    carries=frozenset({ContentKind.TEXT}),
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


class _Image(msgspec.Struct, omit_defaults=True):
    url: str
    caption: str | None = None


class _Message(msgspec.Struct, kw_only=True, omit_defaults=True, rename={"from_": "from"}):
    message_type: str
    to: str
    from_: str
    channel: str
    client_ref: str
    viber_service: _ViberService
    text: str | None = None
    image: _Image | None = None


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


def build_message(out: Outbound, service_id: str, ttl: int) -> _Message:
    """The `POST /v1/messages` body for `out` (a text, or an image with its caption)."""
    action = None
    button = out.content.url_button()
    if button is not None and button[0]:
        action = _Action(url=button[1], text=button[0][:MAX_BUTTON_TEXT])
    options = _ViberService(category=category_for(out.message_type), ttl=ttl, action=action)
    recipient = (out.address or out.phone).removeprefix("+")
    if image_url := out.content.image_url:
        return _Message(
            message_type="image",
            to=recipient,
            from_=service_id,
            channel=PROVIDER_CHANNEL,
            client_ref=out.attempt_id,
            viber_service=options,
            image=_Image(url=image_url, caption=out.text or None),
        )
    return _Message(
        message_type="text",
        to=recipient,
        from_=service_id,
        channel=PROVIDER_CHANNEL,
        client_ref=out.attempt_id,
        viber_service=options,
        text=out.text,
    )


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
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._api_secret = api_secret
        self._service_id = service_id
        self._signature_secret = signature_secret
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
        key, secret, service_id = self._account(out.sender)
        if not (key and secret):
            return Misconfigured("NO_CREDENTIALS")
        if not service_id or len(service_id) > MAX_SERVICE_ID:
            return Misconfigured("NO_SERVICE_ID")
        if not _DIGITS.fullmatch((out.address or out.phone).removeprefix("+")):
            return Failed("INVALID_NUMBER")
        if len(out.text) > MAX_TEXT:
            return Failed("TEXT_TOO_LONG")
        if not out.text and not out.content.image_url:
            return Failed("EMPTY_MESSAGE")
        if out.ttl_remaining_s < MIN_TTL_S:
            # Vonage refuses a shorter TTL (1130); a longer one would outlive the message.
            return Failed("TTL_TOO_SHORT")
        ttl = min(out.ttl_remaining_s, MAX_TTL_S)
        body = msgspec.json.encode(build_message(out, service_id, ttl))
        basic = base64.b64encode(f"{key}:{secret}".encode()).decode("ascii")
        try:
            response = await self._client.post(
                f"{self._base_url}{MESSAGES_PATH}",
                content=body,
                headers={
                    "Authorization": f"Basic {basic}",
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                },
            )
        except httpx.HTTPError as exc:
            log.warning("vonage send failed: %s (attempt %s)", type(exc).__name__, out.attempt_id)
            return transport_outcome(exc)
        outcome = _outcome(response)
        if not isinstance(outcome, Sent):
            log.info(
                "vonage answered HTTP %d (%s) for attempt %s",
                response.status_code,
                type(outcome).__name__,
                out.attempt_id,
            )
        return outcome


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
