"""Twilio call status callbacks: check the signature, then turn the call's end into a report.

Twilio POSTs a form (`application/x-www-form-urlencoded`) to the `StatusCallback` URL the
call was created with, signed in `X-Twilio-Signature`: base64 of HMAC-SHA1, keyed by the
account's auth token, over the full URL Twilio called followed by every POST parameter,
sorted by name, each written as name then value with nothing between.

The signature covers the URL, which the request itself does not carry in full (a proxy
in front of Cascade changes scheme, host and port), so the API layer MUST pass the URL
the provider called — Cascade's public base URL plus the request's path and query — in
the `x-cascade-webhook-url` header of the `Inbound`. The key is the sender's token, so
the flashcall sender MUST carry the Twilio auth token.

A flash call is delivered when the provider reports it placed and ended having reached
the phone (SPEC B2): `no-answer` (it rang out — the normal end of a flash call), `busy`
(the phone declined it) and `completed` (it was picked up, and the call's TwiML hung up
at once). `failed` and `canceled` mean the phone never showed the number. Progress
statuses (`queued`, `initiated`, `ringing`, `in-progress`) are acknowledged and change
nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from collections.abc import Mapping, Sequence
from email.utils import parsedate_to_datetime
from typing import Final, Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import msgspec

from cascade.channels.base import Inbound, WebhookReply, WebhookRoute
from cascade.domain.events import DeliveryReport, Event

log = logging.getLogger(__name__)

CHANNEL: Final = "flashcall"
SIGNATURE_HEADER: Final = "x-twilio-signature"
WEBHOOK_URL_HEADER: Final = "x-cascade-webhook-url"  # set by the API layer (see above)
MAX_FIELDS: Final = 100  # a status callback has about twenty

_DELIVERED: Final = frozenset({"no-answer", "busy", "completed"})
_FAILED: Final[dict[str, str]] = {"failed": "CALL_FAILED", "canceled": "CALL_CANCELED"}
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


def signature(url: str, params: Sequence[tuple[str, str]], token: str) -> str:
    """The `X-Twilio-Signature` of a POST of `params` to `url`, for the auth `token`."""
    signed = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _url_forms(url: str) -> list[str]:
    """`url` as given, and with its default port spelled out or left out.

    Twilio's own validators accept either form, because the URL it signs may or may not
    name the scheme's default port.
    """
    forms = [url]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return forms
    default = _DEFAULT_PORTS.get(parts.scheme)
    host = parts.hostname or ""
    if default is None or not host:
        return forms
    if ":" in host:  # an IPv6 literal goes back in brackets
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    base = f"{userinfo}@{host}" if userinfo else host
    if port is None:
        forms.append(urlunsplit(parts._replace(netloc=f"{base}:{default}")))
    elif port == default:
        forms.append(urlunsplit(parts._replace(netloc=base)))
    return forms


def _signed(inbound: Inbound, params: Sequence[tuple[str, str]]) -> bool:
    given = inbound.headers.get(SIGNATURE_HEADER, "").strip()
    url = inbound.headers.get(WEBHOOK_URL_HEADER, "")
    token = inbound.sender.token
    if not url:
        log.error("flashcall callback without %s: the API layer must set it", WEBHOOK_URL_HEADER)
        return False
    if not given or not token:
        return False
    candidate = given.encode()
    return any(
        hmac.compare_digest(signature(form, params, token).encode(), candidate)
        for form in _url_forms(url)
    )


def _form(body: bytes) -> list[tuple[str, str]]:
    """The POST parameters, blanks kept (they are signed too); ValueError if not a form."""
    if not body:
        return []
    return parse_qsl(
        body.decode("utf-8"),
        keep_blank_values=True,
        strict_parsing=True,
        max_num_fields=MAX_FIELDS,
    )


def _at_ms(timestamp: str | None) -> int:
    """Twilio's `Timestamp` (RFC 2822, UTC) in ms; now when it is missing or unreadable."""
    if timestamp:
        try:
            return int(parsedate_to_datetime(timestamp).timestamp() * 1000)
        except (TypeError, ValueError):
            log.info("flashcall callback with an unreadable Timestamp")
    return time.time_ns() // 1_000_000


def events_for(params: Mapping[str, str]) -> tuple[Event, ...]:
    """The events one (already verified) status callback stands for; ValueError if it
    does not name the call and its status."""
    call_sid = params.get("CallSid", "")
    status = params.get("CallStatus", "")
    if not call_sid or not status:
        raise ValueError("a status callback names CallSid and CallStatus")
    state: Literal["delivered", "failed"]
    reason: str | None = None
    if status in _DELIVERED:
        state = "delivered"
    elif status in _FAILED:
        state = "failed"
        reason = _FAILED[status]
        sip = params.get("SipResponseCode", "")
        if sip.isascii() and sip.isdigit():
            reason = f"{reason}:SIP_{sip}"
    else:
        return ()  # progress (queued, initiated, ringing, in-progress) or a status to come
    return (
        DeliveryReport(
            channel=CHANNEL,
            provider_id=call_sid,
            state=state,
            at_ms=_at_ms(params.get("Timestamp")),
            reason=reason,
        ),
    )


def _reply(status: int, *events: Event, error: str = "") -> WebhookReply:
    if error:
        return WebhookReply(status, msgspec.json.encode({"error": error}), events=events)
    return WebhookReply(status, b"", content_type="text/plain", events=events)


async def handle_webhook(inbound: Inbound) -> WebhookReply:
    """Serve `POST /webhooks/flashcall/{sender_id}` for the provider account `inbound.sender`."""
    try:
        params = _form(inbound.body)
    except ValueError:
        log.warning("flashcall callback for %s is not a form", inbound.sender.id)
        return _reply(400, error="malformed callback")
    if not _signed(inbound, params):
        log.warning("flashcall callback for %s with a bad signature", inbound.sender.id)
        return _reply(403, error="bad signature")
    try:
        events = events_for(dict(params))
    except ValueError:
        log.warning("flashcall callback for %s without CallSid/CallStatus", inbound.sender.id)
        return _reply(400, error="malformed callback")
    return _reply(200, *events)


WEBHOOK_ROUTE: Final = WebhookRoute(channel=CHANNEL, handler=handle_webhook)
