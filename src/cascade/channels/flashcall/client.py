"""Placing flash calls through Twilio Programmable Voice, and what each answer means.

One call per attempt: `POST {base}/2010-04-01/Accounts/{AccountSid}/Calls.json`, a form
with `To` (the recipient), `From` (the caller number that carries the code), `Twiml`
(`<Response><Hangup/></Response>`: should anyone pick up, the call ends at once), a short
`Timeout` (how long it rings), and `StatusCallback` with `StatusCallbackEvent=completed`
so Twilio reports how the call ended. HTTP Basic auth, AccountSid:AuthToken.

Twilio answers `201` with the Call resource (`sid` "CA…"), or an error body
`{"code", "message", "more_info", "status"}`; `_ERRORS` maps the codes that matter to
what the engine should do. The auth token travels only in the Authorization header and
is never logged; neither are the code and the caller number that carries it.
"""

from __future__ import annotations

import logging
from typing import Final, Literal, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from cascade.channels.base import WebhookRoute
from cascade.channels.flashcall import codes
from cascade.channels.flashcall.webhook import WEBHOOK_ROUTE
from cascade.channels.http import transport_outcome
from cascade.channels.transport import provider_client
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
_T = TypeVar("_T")

NAME: Final = "flashcall"
DEFAULT_BASE_URL: Final = "https://api.twilio.com"
API_VERSION: Final = "2010-04-01"

# Should the call be answered, end it at once: a flash call carries nothing but its number.
TWIML: Final = "<Response><Hangup/></Response>"
# Ring long enough for the phone to show the number, short enough to end before voicemail
# picks up (Twilio may add a few seconds of its own to the Timeout).
DEFAULT_RING_TIMEOUT_S: Final = 10
MAX_RING_TIMEOUT_S: Final = 600  # Twilio's maximum Timeout

LIMITS: Final = Limits(
    max_text=4096,  # a flash call carries no text; the fallback step carries it
    per_sender_per_second=None,  # Twilio queues calls beyond the account's CPS itself
    per_recipient_per_second=None,
    confirms_delivery=True,
    delivery_window_s=60,  # ring timeout plus queueing; past it the fallback goes
    # no text: the code is the caller number; a fallback step carries text
    carries=frozenset({ContentKind.CALLER_ID}),
)

# Twilio names no wait for 20429; one second lets the engine's pause do the backing off.
THROTTLE_PAUSE_S: Final = 1.0

CALLER_NOT_VERIFIED: Final = 21210  # Twilio: From is not the account's number

_Kind = Literal["unreachable", "misconfigured", "throttled", "failed"]

# Twilio error code -> (what it means for the step, the attempt's reason)
_ERRORS: Final[dict[int, tuple[_Kind, str]]] = {
    21211: ("unreachable", "INVALID_NUMBER"),  # invalid 'To' phone number
    21217: ("unreachable", "INVALID_NUMBER"),  # phone number does not appear to be valid
    13223: ("unreachable", "INVALID_NUMBER"),  # <Dial>: invalid phone number format
    13224: ("unreachable", "INVALID_NUMBER"),  # <Dial>: number invalid or not supported
    21202: ("unreachable", "PREMIUM_NUMBER"),  # 'To' is a premium number
    21215: ("misconfigured", "GEO_PERMISSION"),  # the destination is not enabled
    CALLER_NOT_VERIFIED: ("misconfigured", "CALLER_NOT_VERIFIED"),  # From is not the account's
    20003: ("misconfigured", "AUTH_FAILED"),  # wrong AccountSid/AuthToken, suspended
    20403: ("misconfigured", "ACCOUNT_FORBIDDEN"),  # account suspended or closed
    20429: ("throttled", "TOO_MANY_REQUESTS"),
    21208: ("failed", "INVALID_TIMEOUT"),
    21626: ("failed", "INVALID_STATUS_CALLBACK_EVENT"),
}


class _Call(msgspec.Struct):
    """The fields of a Call resource we use (the rest are ignored)."""

    sid: str
    status: str = ""


class _Error(msgspec.Struct):
    code: int | None = None


def outcome_for_error(http_status: int, code: int | None, retry_after: str | None) -> Outcome:
    """What a non-2xx answer (with Twilio's error `code`, when it has one) means."""
    row = _ERRORS.get(code) if code is not None else None
    if row is not None:
        kind, reason = row
        if kind == "unreachable":
            return Unreachable(reason)
        if kind == "misconfigured":
            return Misconfigured(reason)
        if kind == "throttled":
            return Throttled(_pause(retry_after), reason)
        return Failed(reason)
    if http_status == 429:
        return Throttled(_pause(retry_after), "HTTP_429")
    if http_status >= 500:
        return Retry(f"HTTP_{http_status}")
    if 300 <= http_status < 400 or http_status in (401, 403, 404):
        # without a Twilio code these mean a wrong base URL, account or proxy
        return Misconfigured(f"HTTP_{http_status}")
    if code is not None:
        return Failed(f"TWILIO_{code}")
    return Failed(f"HTTP_{http_status}")


def _pause(retry_after: str | None) -> float:
    try:
        return max(float(retry_after or ""), THROTTLE_PAUSE_S)
    except ValueError:
        return THROTTLE_PAUSE_S


class FlashCallChannel:
    """The `flashcall` channel: one Twilio account, one block of caller numbers.

    `caller_prefix` + `code_length` digits must be numbers the account may call from
    (its own Twilio numbers or verified caller ids): the code picks the caller.
    `status_callback_url_base` is Cascade's public base URL; Twilio reports each call to
    `{base}/webhooks/flashcall/{sender id}`.
    """

    name: str = NAME
    limits: Limits = LIMITS
    routes: tuple[WebhookRoute, ...] = (WEBHOOK_ROUTE,)

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        caller_prefix: str,
        status_callback_url_base: str,
        code_length: int = 4,
        base_url: str = DEFAULT_BASE_URL,
        ring_timeout_s: int = DEFAULT_RING_TIMEOUT_S,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if not account_sid or not auth_token:
            raise ValueError("a Twilio AccountSid and AuthToken are required")
        if not status_callback_url_base.startswith(("http://", "https://")):
            raise ValueError("the status callback base must be an absolute http(s) URL")
        if not 1 <= ring_timeout_s <= MAX_RING_TIMEOUT_S:
            raise ValueError(f"the ring timeout must be 1-{MAX_RING_TIMEOUT_S} seconds")
        self._account_sid = account_sid
        self._auth = httpx.BasicAuth(account_sid, auth_token)
        self._prefix = codes.check_prefix(caller_prefix, code_length)
        self._code_length = code_length
        self._callback_base = status_callback_url_base.rstrip("/")
        self._base_url = base_url.rstrip("/")
        self._ring_timeout_s = ring_timeout_s
        self._owns_client = client is None
        self._client = client if client is not None else provider_client()

    @property
    def code_length(self) -> int:
        return self._code_length

    def status_callback_url(self, sender: Sender) -> str:
        return f"{self._callback_base}/webhooks/{NAME}/{quote(sender.id, safe='')}"

    def _calls_url(self) -> str:
        account = quote(self._account_sid, safe="")
        return f"{self._base_url}/{API_VERSION}/Accounts/{account}/Calls.json"

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def send(self, out: Outbound) -> Outcome:
        """Place the call from the message's own caller number (`Content.caller_id`, its last
        digits the code) or from the block's number for a fresh code. `Sent.secret` is the
        code, `Sent.detail` the caller and its pattern (`codes.pattern_in` reads it)."""
        to = out.address or out.phone
        given = out.content.caller_id
        if given is None:
            code = codes.new_code(self._code_length)
            caller = codes.caller_for(self._prefix, code)
            shown = codes.pattern(caller, self._code_length)
        else:
            try:
                caller, code = codes.given_caller(given, self._code_length)
            except ValueError:
                return Failed("INVALID_CALLER_ID")
            shown = f"{caller} ({codes.masked(code)})"
        ring_s = max(1, min(self._ring_timeout_s, out.ttl_remaining_s))
        form = [
            ("To", to),
            ("From", caller),
            ("Twiml", TWIML),
            ("Timeout", str(ring_s)),
            ("StatusCallback", self.status_callback_url(out.sender)),
            ("StatusCallbackMethod", "POST"),
            ("StatusCallbackEvent", "completed"),
        ]
        try:
            response = await self._client.post(self._calls_url(), data=dict(form), auth=self._auth)
        except httpx.HTTPError as exc:
            log.warning(
                "twilio create call failed: %s (attempt %s)", type(exc).__name__, out.attempt_id
            )
            return transport_outcome(exc)
        if response.is_success:
            call = _decode(response.content, _Call)
            if call is None or not call.sid:
                # a 2xx we cannot read: the call may have been placed, so never repeat it
                return InDoubt("BAD_RESPONSE")
            return Sent(call.sid, detail=shown, secret=code)
        error = _decode(response.content, _Error)
        code_number = error.code if error is not None else None
        if given is not None and code_number == CALLER_NOT_VERIFIED:
            # the message's own caller number is not the account's: this message fails,
            # the channel is fine
            return Failed("CALLER_ID_NOT_VERIFIED")
        # Twilio's message may quote the From number, which is the code: never logged.
        log.info(
            "twilio create call answered HTTP %d, code %s for attempt %s",
            response.status_code,
            code_number,
            out.attempt_id,
        )
        return outcome_for_error(
            response.status_code, code_number, response.headers.get("Retry-After")
        )

    async def revoke(self, sender: Sender, phone: str, provider_id: str) -> None:
        """Cancel a call still queued or ringing when its step's window ends, so it cannot
        ring after the fallback went out. A call that has ended already is left alone."""
        url = self._calls_url().removesuffix(".json") + f"/{quote(provider_id, safe='')}.json"
        try:
            response = await self._client.post(url, data={"Status": "canceled"}, auth=self._auth)
        except httpx.HTTPError as exc:
            log.warning("twilio cancel call failed: %s", type(exc).__name__)
            return
        if not response.is_success:
            log.info("twilio cancel call %s answered HTTP %d", provider_id, response.status_code)


def _decode(raw: bytes, kind: type[_T]) -> _T | None:
    try:
        return msgspec.json.decode(raw, type=kind)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
