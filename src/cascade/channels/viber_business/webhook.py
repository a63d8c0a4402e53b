"""Vonage Messages API status webhooks: verify the signed JWT, then report delivery.

Vonage signs every Messages API webhook with a JWT in `Authorization: Bearer …`,
HS256 with the account's signature secret; its claims carry `iat`, the `api_key` of the
account and `payload_hash`, the hex SHA-256 of the body. A request is believed only when
the signature holds, the token is fresh (an old token replayed is refused) and the hash
matches the body byte for byte (a token lifted onto another body is refused); otherwise it
gets 401 and changes nothing. PyJWT is not a dependency, and HS256 is a dozen lines of
`hmac`, so the check is done here, refusing every algorithm but HS256.

`delivered` and `read` become delivery reports; `rejected` and `undeliverable` a failed
report whose reason comes from the error code (`codes.py`); `submitted` and statuses of
other channels sharing the status URL are acknowledged with 200 and ignored.

The same route takes the inbound URL's webhooks (a person answering, signed the same
way): an inbound `viber_service` message (`message_type` and no `status`) of type `text`
is an `InboundMessage` from `+{from}` to the service `to`, under its `message_uuid` (a
webhook Vonage repeats is stored once); other types (images, files…) are acknowledged and
not kept.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import time
from datetime import datetime
from typing import Any, Final, Literal

import msgspec

from cascade.channels.base import Inbound, WebhookReply, WebhookRoute
from cascade.channels.viber_business import partner
from cascade.channels.viber_business.codes import code_from, reason_for
from cascade.domain.events import DeliveryReport, Event, InboundMessage

log = logging.getLogger(__name__)

CHANNEL: Final = "viber_business"
PROVIDER_CHANNEL: Final = "viber_service"  # Vonage's name for Viber Business Messages
# How old a token may be: enough for clock skew and a slow delivery, too little for a
# captured request to be replayed later.
MAX_TOKEN_AGE_S: Final = 300
MAX_CLOCK_SKEW_S: Final = 60  # a token "issued" this far in the future is still believed

_STATES: Final[dict[str, Literal["delivered", "read", "failed"]]] = {
    "delivered": "delivered",
    "read": "read",
    "rejected": "failed",
    "undeliverable": "failed",
}


# --- the token ------------------------------------------------------------------------------


class InvalidToken(Exception):
    """The webhook's JWT is missing, malformed, forged, stale or for another body."""


def _b64url_decode(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidToken("bad base64") from exc


def payload_hash(body: bytes) -> str:
    """The `payload_hash` claim Vonage puts on `body`: hex SHA-256 of the raw bytes."""
    return hashlib.sha256(body).hexdigest()


def verify_token(
    authorization: str, secret: str, body: bytes, *, now: float | None = None
) -> dict[str, Any]:
    """The claims of a valid Vonage webhook token for `body`; raises `InvalidToken`."""
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("no bearer token")
    if not secret:
        raise InvalidToken("no signature secret configured")
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise InvalidToken("not a JWS")
    head_b64, claims_b64, signature_b64 = parts
    try:
        header = msgspec.json.decode(_b64url_decode(head_b64))
        claims = msgspec.json.decode(_b64url_decode(claims_b64))
    except msgspec.DecodeError as exc:
        raise InvalidToken("bad JSON") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise InvalidToken("bad JSON")
    # Only HS256: "none", RS256 with the secret as a "public key" and friends are refused.
    if header.get("alg") != "HS256":
        raise InvalidToken("unexpected algorithm")
    expected = hmac.new(
        secret.encode(), f"{head_b64}.{claims_b64}".encode("ascii"), hashlib.sha256
    ).digest()
    if not hmac.compare_digest(expected, _b64url_decode(signature_b64)):
        raise InvalidToken("bad signature")
    clock = time.time() if now is None else now
    issued = claims.get("iat")
    if not isinstance(issued, int | float) or isinstance(issued, bool):
        raise InvalidToken("no iat")
    if clock - issued > MAX_TOKEN_AGE_S or issued - clock > MAX_CLOCK_SKEW_S:
        raise InvalidToken("stale token")
    expires = claims.get("exp")
    if isinstance(expires, int | float) and not isinstance(expires, bool) and clock >= expires:
        raise InvalidToken("expired token")
    claimed_hash = claims.get("payload_hash")
    if not isinstance(claimed_hash, str) or not hmac.compare_digest(
        claimed_hash.lower().encode(), payload_hash(body).encode()
    ):
        raise InvalidToken("payload hash mismatch")
    return claims


def _api_key(sender_token: str) -> str:
    return sender_token.partition(":")[0]


# --- the status webhook ---------------------------------------------------------------------


class _Error(msgspec.Struct):
    type: str | None = None
    title: str | int | None = None
    detail: str | None = None


class _Status(msgspec.Struct):
    message_uuid: str
    status: str
    timestamp: str
    channel: str | None = None
    error: _Error | None = None
    client_ref: str | None = None  # ours: the attempt's id, sent with the message


class _Inbound(msgspec.Struct, rename={"sender": "from"}):
    """An inbound message (Messages API v1): a person writing to the Viber service."""

    message_uuid: str
    to: str
    sender: str  # the phone, digits
    timestamp: str
    message_type: str
    channel: str | None = None
    text: str | None = None


def _at_ms(timestamp: str) -> int:
    try:
        moment = datetime.fromisoformat(timestamp)
    except ValueError as exc:
        raise msgspec.ValidationError(f"bad timestamp {timestamp[:40]!r}") from exc
    if moment.tzinfo is None:
        raise msgspec.ValidationError("timestamp without offset")
    return int(moment.timestamp() * 1000)


def _failure_reason(error: _Error | None) -> str:
    if error is None:
        return "REJECTED"
    code = code_from(error.type, error.title)
    return reason_for(code) if code is not None else "REJECTED"


def _inbound(body: bytes) -> tuple[Event, ...]:
    message = msgspec.json.decode(body, type=_Inbound)
    at_ms = _at_ms(message.timestamp)
    phone = message.sender.strip().removeprefix("+")
    if not message.message_uuid or not phone.isdigit():
        raise msgspec.ValidationError("an inbound message without its id or sender")
    if message.channel not in (None, PROVIDER_CHANNEL) or message.message_type != "text":
        return ()  # the inbound URL also hears other channels; pictures are not kept
    return (
        InboundMessage(
            CHANNEL,
            "+" + phone,
            message.to,
            message.text or "",
            at_ms,
            provider_id=message.message_uuid,
        ),
    )


def _events(body: bytes) -> tuple[Event, ...]:
    shape = msgspec.json.decode(body)
    if isinstance(shape, dict) and "message_type" in shape and "status" not in shape:
        return _inbound(body)
    status = msgspec.json.decode(body, type=_Status)
    if not status.message_uuid:
        raise msgspec.ValidationError("empty message_uuid")
    at_ms = _at_ms(status.timestamp)
    if status.channel not in (None, PROVIDER_CHANNEL):
        return ()  # the account's status URL also hears its other channels
    state = _STATES.get(status.status)
    if state is None:
        return ()  # "submitted", and statuses Vonage may add later
    return (
        DeliveryReport(
            channel=CHANNEL,
            provider_id=status.message_uuid,
            state=state,
            at_ms=at_ms,
            reason=_failure_reason(status.error) if state == "failed" else None,
            # settles a send in doubt, whose message_uuid was never learnt
            attempt_id=status.client_ref or None,
        ),
    )


def _reply(status: int, *events: Event, error: str = "") -> WebhookReply:
    if error:
        return WebhookReply(status, msgspec.json.encode({"error": error}), events=events)
    return WebhookReply(status, b"", content_type="text/plain", events=events)


async def handle_webhook(
    inbound: Inbound, *, now: float | None = None, fallback_secret: str = ""
) -> WebhookReply:
    """Serve `POST /webhooks/viber_business/{sender_id}` for the account `inbound.sender`.

    The sender's `webhook_secret` is the account's signature secret (`fallback_secret`
    when the sender has none); its `token`, `api_key:api_secret`, names the account.
    """
    if "authorization" not in inbound.headers and partner.is_receipt(inbound.body):
        # Viber's own status callback (surveys, carousels, templates): unsigned, believed
        # for a message token we were given (`partner.py`)
        at_ms = int((time.time() if now is None else now) * 1000)
        return _reply(200, *partner.receipt_events(inbound.body, at_ms))
    secret = inbound.sender.webhook_secret or fallback_secret
    try:
        claims = verify_token(
            inbound.headers.get("authorization", ""), secret, inbound.body, now=now
        )
    except InvalidToken as exc:
        log.warning("viber_business webhook for %s refused: %s", inbound.sender.id, exc)
        return _reply(401, error="bad signature")
    expected_key = _api_key(inbound.sender.token)
    if expected_key and claims.get("api_key") not in (None, expected_key):
        log.warning("viber_business webhook for %s signed for another account", inbound.sender.id)
        return _reply(401, error="bad signature")
    try:
        events = _events(inbound.body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        log.warning("malformed viber_business webhook for %s: %s", inbound.sender.id, exc)
        return _reply(400, error="malformed status")
    return _reply(200, *events)


async def _handle(inbound: Inbound) -> WebhookReply:
    return await handle_webhook(inbound)


WEBHOOK_ROUTE: Final = WebhookRoute(channel=CHANNEL, handler=_handle)
