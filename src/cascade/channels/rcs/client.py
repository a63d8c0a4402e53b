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
from cascade.channels.rcs.content import MAX_TEXT, ContentMessage, content_message
from cascade.channels.rcs.webhook import WEBHOOK_ROUTE
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

LIMITS: Final = Limits(
    max_text=MAX_TEXT,
    per_sender_per_second=None,  # RBM's quota answers 429 (RESOURCE_EXHAUSTED): we pause
    per_recipient_per_second=None,
    confirms_delivery=True,
    delivery_window_s=600,  # then the message is revoked and the cascade moves on
    # text with suggestion chips (a survey's options are suggested replies), a standalone
    # rich card (an image or a video, the text, its buttons), a carousel of cards
    # (`content.py`); a file or a template is not RBM's: folded into text, or skipped
    carries=frozenset(
        {
            ContentKind.TEXT,
            ContentKind.IMAGE,
            ContentKind.VIDEO,
            ContentKind.BUTTONS,
            ContentKind.CAROUSEL,
            ContentKind.SURVEY,
            ContentKind.SUGGESTIONS,
        }
    ),
    idempotent_sends=True,  # a repeated messageId is refused (409): never delivered twice
)

CAPABILITY_TTL_S: Final = 3600.0
CAPABILITY_CACHE_SIZE: Final = 100_000
# Google names no wait for 429; one second lets the engine's pause do the backing off.
THROTTLE_PAUSE_S: Final = 1.0

RevokeResult = Literal["revoked", "delivered", "failed"]


# --- the AgentMessage body --------------------------------------------------------------------


class _AgentMessage(msgspec.Struct, rename="camel"):
    content_message: ContentMessage
    message_traffic_type: str
    expire_time: str


class _ErrorBody(msgspec.Struct):
    status: str = ""


class _ErrorAnswer(msgspec.Struct):
    error: _ErrorBody


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
        # RBM's limits are checked before anything is sent
        content = content_message(out.message_id, out.content)
        if isinstance(content, Failed):
            return content
        if out.ttl_remaining_s <= 0:
            return Failed("TTL_EXPIRED")
        capable = await self.capable(out.phone)
        if not isinstance(capable, bool):
            return capable
        if not capable:
            return Unreachable("NO_RCS")
        expire_ms = self._clock.now_ms() + out.ttl_remaining_s * 1000
        body = _AgentMessage(
            content_message=content,
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
