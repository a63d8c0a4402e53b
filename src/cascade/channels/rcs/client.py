"""Sending through Google RCS Business Messaging (RBM), and what each answer means.

A send is two calls. First `GET phones/{e164}/capabilities`: 404 means the phone cannot
get RBM messages (no RCS, or the agent is not launched on its network), and the step is
skipped at once; the answer is cached per phone for `capability_ttl_s`. Then
`POST phones/{e164}/agentMessages?messageId=…` with Cascade's attempt id as `messageId`:
RBM refuses a second message with an id it has seen (409 ALREADY_EXISTS), so repeating a
send whose answer was lost can never deliver twice, and every call here is safe to repeat.
`expireTime` is the message's remaining TTL: RBM withdraws the message itself by then.

Delivery is confirmed by the DELIVERED event on the webhook (`webhook.py`); when the
step's window ends first the engine calls `revoke`, which withdraws the message
(`DELETE …/agentMessages/{messageId}`; 404 there means it was delivered meanwhile).

Every call carries a service-account bearer token (`auth.py`), which is never logged.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import OrderedDict
from typing import Final, Literal

import httpx
import msgspec

from cascade.channels.base import WebhookRoute
from cascade.channels.http import transport_outcome
from cascade.channels.rcs.auth import AuthError, TokenSource
from cascade.channels.rcs.webhook import OPEN_URL_POSTBACK, WEBHOOK_ROUTE, survey_postback
from cascade.channels.transport import provider_client
from cascade.clock import Clock, SystemClock
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
    Unreachable,
)

log = logging.getLogger(__name__)

NAME: Final = "rcs"
DEFAULT_BASE_URL: Final = "https://rcsbusinessmessaging.googleapis.com/v1"

# RBM's limits (AgentContentMessage, SuggestedReply, CardContent)
MAX_TEXT: Final = 3072
MAX_SUGGESTIONS: Final = 11
MAX_SUGGESTION_TEXT: Final = 25
MAX_CARD_TITLE: Final = 200
MAX_CARD_DESCRIPTION: Final = 2000

LIMITS: Final = Limits(
    max_text=MAX_TEXT,
    per_sender_per_second=None,  # RBM's quota answers 429 (RESOURCE_EXHAUSTED): we pause
    per_recipient_per_second=None,
    confirms_delivery=True,
    delivery_window_s=600,  # then the message is revoked and the cascade moves on
    # options become suggested replies; a promo a rich card: image, text, an open-URL button
    carries=frozenset(
        {ContentKind.TEXT, ContentKind.SURVEY, ContentKind.IMAGE, ContentKind.BUTTONS}
    ),
    idempotent_sends=True,  # a repeated messageId is refused (409): never delivered twice
)

CAPABILITY_TTL_S: Final = 3600.0
CAPABILITY_CACHE_SIZE: Final = 100_000
# Google names no wait for 429; one second lets the engine's pause do the backing off.
THROTTLE_PAUSE_S: Final = 1.0

RevokeResult = Literal["revoked", "delivered", "failed"]


# --- the AgentMessage body --------------------------------------------------------------------


class _Reply(msgspec.Struct, rename="camel"):
    text: str
    postback_data: str


class _OpenUrl(msgspec.Struct):
    url: str


class _Action(msgspec.Struct, rename="camel"):
    text: str
    postback_data: str
    open_url_action: _OpenUrl


class _Suggestion(msgspec.Struct, omit_defaults=True):
    reply: _Reply | None = None
    action: _Action | None = None


class _ContentInfo(msgspec.Struct, rename="camel"):
    file_url: str


class _Media(msgspec.Struct, rename="camel"):
    height: str
    content_info: _ContentInfo


class _CardContent(msgspec.Struct, omit_defaults=True):
    title: str | None = None
    description: str | None = None
    media: _Media | None = None
    suggestions: list[_Suggestion] | None = None


class _StandaloneCard(msgspec.Struct, rename="camel"):
    card_orientation: str
    card_content: _CardContent


class _RichCard(msgspec.Struct, rename="camel"):
    standalone_card: _StandaloneCard


class _ContentMessage(msgspec.Struct, rename="camel", omit_defaults=True):
    text: str | None = None
    rich_card: _RichCard | None = None
    suggestions: list[_Suggestion] | None = None


class _AgentMessage(msgspec.Struct, rename="camel"):
    content_message: _ContentMessage
    message_traffic_type: str
    expire_time: str


class _ErrorBody(msgspec.Struct):
    status: str = ""


class _ErrorAnswer(msgspec.Struct):
    error: _ErrorBody


def _chip_text(text: str) -> str:
    """A suggestion's visible text: RBM shows at most 25 characters."""
    text = " ".join(text.split())
    return text if len(text) <= MAX_SUGGESTION_TEXT else text[: MAX_SUGGESTION_TEXT - 1] + "…"


def survey_suggestions(message_id: str, options: tuple[str, ...]) -> list[_Suggestion]:
    """One suggested reply per option; the postback carries the whole option and message."""
    return [
        _Suggestion(reply=_Reply(_chip_text(o), survey_postback(message_id, o)))
        for o in options[:MAX_SUGGESTIONS]
    ]


def content_for(out: Outbound) -> _ContentMessage:
    """The message as RBM shows it: text with suggested replies for a survey; a rich card
    (image, text, an open-URL button) for a promo with media."""
    content = out.content
    if content.survey:
        return _ContentMessage(
            text=out.text, suggestions=survey_suggestions(out.message_id, content.survey)
        )
    button: _Suggestion | None = None
    if found := content.url_button():
        button_text, button_url = found
        button = _Suggestion(
            action=_Action(
                _chip_text(button_text or "Open"),
                f"{OPEN_URL_POSTBACK}|{out.message_id}",
                _OpenUrl(button_url),
            )
        )
    image_url = content.image_url
    if not image_url and button is None:
        return _ContentMessage(text=out.text)
    if len(out.text) > MAX_CARD_DESCRIPTION:
        # too long for a card: the text, the button as a chip, the image as a link
        text = out.text
        if image_url and image_url not in text and len(text) + 1 + len(image_url) <= MAX_TEXT:
            text = f"{text}\n{image_url}"
        return _ContentMessage(text=text, suggestions=[button] if button else None)
    media = _Media("MEDIUM", _ContentInfo(image_url)) if image_url else None
    card = _CardContent(
        description=out.text or None, media=media, suggestions=[button] if button else None
    )
    return _ContentMessage(rich_card=_RichCard(_StandaloneCard("VERTICAL", card)))


def traffic_type(message_type: str) -> str:
    return "PROMOTION" if message_type == "promo" else "TRANSACTION"


def rfc3339(ms: int) -> str:
    moment = dt.datetime.fromtimestamp(ms // 1000, dt.UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


class RcsChannel:
    """The `rcs` channel for one RBM agent: one pooled HTTP client, one token source."""

    name: str = NAME
    limits: Limits = LIMITS
    routes: tuple[WebhookRoute, ...] = (WEBHOOK_ROUTE,)

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        agent_id: str,
        tokens: TokenSource,
        client: httpx.AsyncClient | None = None,
        capability_ttl_s: float = CAPABILITY_TTL_S,
        clock: Clock | None = None,
        cache_size: int = CAPABILITY_CACHE_SIZE,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._agent_id = agent_id
        self._tokens = tokens
        self._owns_client = client is None
        self._client = client if client is not None else provider_client()
        self._capability_ttl_s = capability_ttl_s
        self._clock = clock if clock is not None else SystemClock()
        self._cache_size = cache_size
        # phone -> (RBM reaches it, until when on the clock's monotonic scale)
        self._capable: OrderedDict[str, tuple[bool, float]] = OrderedDict()

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    # --- sending ----------------------------------------------------------------------------

    async def send(self, out: Outbound) -> Outcome:
        if len(out.text) > MAX_TEXT:
            return Failed("TEXT_TOO_LONG")
        if not out.text and not out.content.image_url:
            return Failed("NO_TEXT")
        if out.ttl_remaining_s <= 0:
            return Failed("TTL_EXPIRED")
        capable = await self.capable(out.phone)
        if not isinstance(capable, bool):
            return capable
        if not capable:
            return Unreachable("NO_RCS")
        expire_ms = self._clock.now_ms() + out.ttl_remaining_s * 1000
        body = _AgentMessage(
            content_message=content_for(out),
            message_traffic_type=traffic_type(out.message_type),
            expire_time=rfc3339(expire_ms),
        )
        try:
            response = await self._call(
                "POST",
                f"/phones/{out.phone}/agentMessages",
                {"messageId": out.attempt_id, "agentId": self._agent_id},
                msgspec.json.encode(body),
            )
        except AuthError as exc:
            return _auth_outcome(exc)
        except httpx.HTTPError as exc:
            log.warning("rbm send failed: %s (attempt %s)", type(exc).__name__, out.attempt_id)
            return _transport(exc)
        code = response.status_code
        if code == 200:
            return Sent(out.attempt_id)
        if code == 409:
            # this messageId was taken before: an earlier try of this very attempt
            log.info("rbm already has attempt %s (409): sent", out.attempt_id)
            return Sent(out.attempt_id)
        if code == 404:
            self._remember(out.phone, False)
            return Unreachable("NO_RCS")
        log.info("rbm send answered HTTP %d for attempt %s", code, out.attempt_id)
        return _outcome_for_http(response)

    async def capable(self, phone: str) -> bool | Outcome:
        """Whether RBM reaches `phone` (cached), or the outcome that kept us from knowing."""
        now = self._clock.monotonic()
        cached = self._capable.get(phone)
        if cached is not None:
            if now < cached[1]:
                self._capable.move_to_end(phone)
                return cached[0]
            del self._capable[phone]
        try:
            response = await self._call(
                "GET",
                f"/phones/{phone}/capabilities",
                {"requestId": str(uuid.uuid4()), "agentId": self._agent_id},
            )
        except AuthError as exc:
            return _auth_outcome(exc)
        except httpx.HTTPError as exc:
            log.warning("rbm capability check failed: %s", type(exc).__name__)
            return _transport(exc)
        if response.status_code == 200:
            self._remember(phone, True)
            return True
        if response.status_code == 404:
            self._remember(phone, False)
            return False
        log.info("rbm capability check answered HTTP %d", response.status_code)
        return _outcome_for_http(response)

    def _remember(self, phone: str, capable: bool) -> None:
        self._capable[phone] = (capable, self._clock.monotonic() + self._capability_ttl_s)
        self._capable.move_to_end(phone)
        while len(self._capable) > self._cache_size:
            self._capable.popitem(last=False)

    # --- revoking ---------------------------------------------------------------------------

    async def revoke(self, sender: Sender, phone: str, provider_id: str) -> None:
        """Withdraw an undelivered message (the engine calls this when the window ends)."""
        await self.revoke_message(phone, provider_id)

    async def revoke_message(self, phone: str, message_id: str) -> RevokeResult:
        try:
            response = await self._call(
                "DELETE",
                f"/phones/{phone}/agentMessages/{message_id}",
                {"agentId": self._agent_id},
            )
        except AuthError as exc:
            log.warning("rbm revoke of %s: no token (%s)", message_id, exc.reason)
            return "failed"
        except httpx.HTTPError as exc:
            log.warning("rbm revoke of %s failed: %s", message_id, type(exc).__name__)
            return "failed"
        if response.status_code == 200:
            log.info("rbm message %s revoked", message_id)
            return "revoked"
        if response.status_code == 404:
            # RBM: the message was delivered before it could be withdrawn
            log.info("rbm message %s was delivered before its revocation", message_id)
            return "delivered"
        log.warning("rbm revoke of %s answered HTTP %d", message_id, response.status_code)
        return "failed"

    # --- plumbing ---------------------------------------------------------------------------

    async def _call(
        self, method: str, path: str, params: dict[str, str], body: bytes | None = None
    ) -> httpx.Response:
        """One API call; a 401 gets one more try with a fresh token (every call here is safe
        to repeat, see the module docstring)."""
        response = await self._once(method, path, params, body)
        if response.status_code == 401:
            self._tokens.invalidate()
            response = await self._once(method, path, params, body)
        return response

    async def _once(
        self, method: str, path: str, params: dict[str, str], body: bytes | None
    ) -> httpx.Response:
        token = await self._tokens.token()
        headers = {"Authorization": f"Bearer {token}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        return await self._client.request(
            method, f"{self._base_url}{path}", params=params, content=body, headers=headers
        )


def _transport(error: httpx.HTTPError) -> Outcome:
    """`transport_outcome`, except that a lost answer is worth a retry here: RBM refuses a
    repeated messageId, so sending the same attempt again cannot deliver twice."""
    outcome = transport_outcome(error)
    if isinstance(outcome, InDoubt):
        return Retry(outcome.reason)
    return outcome


def _auth_outcome(error: AuthError) -> Outcome:
    if error.retryable:
        return Retry(error.reason)
    return Misconfigured(error.reason)


def _google_status(response: httpx.Response) -> str | None:
    """Google's canonical error status (INVALID_ARGUMENT, PERMISSION_DENIED…), if given."""
    try:
        status = msgspec.json.decode(response.content, type=_ErrorAnswer).error.status
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return status if status.replace("_", "").isalpha() and len(status) <= 40 else None


def _outcome_for_http(response: httpx.Response) -> Outcome:
    code = response.status_code
    reason = _google_status(response) or f"HTTP_{code}"
    if code >= 500:
        return Retry(reason)
    if code == 429:
        return Throttled(retry_after_s=_retry_after(response), reason=reason)
    if code in (401, 403) or 300 <= code < 400:
        # a bad key, an agent not launched or not ours, a wrong base URL: the operator acts
        return Misconfigured(reason)
    return Failed(reason)


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(float(response.headers.get("Retry-After", "")), THROTTLE_PAUSE_S)
    except ValueError:
        return THROTTLE_PAUSE_S
