"""The RBM agent webhook: the setup handshake, then signed events turned into domain events.

Setting the webhook up, Google POSTs `{"clientToken": …, "secret": …}`; the webhook proves
it is ours by answering 200 with the secret as a plain-text body, and only when the client
token is the one configured for the agent (here the sender's `webhook_secret`).

After that every message and event arrives as a Pub/Sub-style push,
`{"message": {"data": <base64 JSON>, "messageId": …, "publishTime": …}, "subscription": …}`,
signed with `X-Goog-Signature`: the base64 HMAC-SHA512, keyed by the client token, of the
*decoded* `message.data` (not of the HTTP body). An unsigned or forged push gets 401 and
changes nothing.

Every user message with text — typed text, or a tapped suggestion (a suggested reply or
action: RBM sends its `text` and `postbackData`) — is an `InboundMessage` to the agent
(SPEC D7), under the user message's own `messageId` (so a push Google repeats is stored
once). A survey reply is a `SurveyAnswer` besides; typed text is offered as the answer to
the newest survey too.

Google retries anything but 200 with backoff for days, and a failing webhook holds up the
partner's whole queue, so well-formed pushes that carry nothing for us (IS_TYPING, files,
locations, events we do not use) are acknowledged with 200.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import logging
from typing import Any, Final, Literal

import msgspec

from cascade.channels.base import Inbound, WebhookHandler, WebhookReply, WebhookRoute
from cascade.clock import Clock, SystemClock
from cascade.domain.events import DeliveryReport, Event, InboundMessage, SurveyAnswer

log = logging.getLogger(__name__)

CHANNEL: Final = "rcs"
SIGNATURE_HEADER: Final = "x-goog-signature"

# Cascade's postback data: what a tapped suggestion sends back. A survey reply names the
# message and carries the whole option (the chip shows at most 25 characters of it).
SURVEY_POSTBACK: Final = "cascade-survey"
OPEN_URL_POSTBACK: Final = "cascade-open"


def signature(data: bytes, client_token: str) -> str:
    """The `X-Goog-Signature` Google puts on a push whose decoded `message.data` is `data`."""
    digest = hmac.new(client_token.encode(), data, hashlib.sha512).digest()
    return base64.b64encode(digest).decode()


def survey_postback(message_id: str, option: str) -> str:
    return f"{SURVEY_POSTBACK}|{message_id}|{option}"


def parse_survey_postback(postback: str) -> tuple[str, str] | None:
    """(message id, option) from a survey reply's postback data, or None if not ours."""
    kind, _, rest = postback.partition("|")
    message_id, sep, option = rest.partition("|")
    if kind != SURVEY_POSTBACK or not sep or not message_id or not option:
        return None
    return message_id, option


# --- the shapes (fields we do not use are ignored) -------------------------------------------


class _Handshake(msgspec.Struct, rename="camel"):
    client_token: str
    secret: str


class _PushMessage(msgspec.Struct, rename="camel"):
    data: str
    message_id: str = ""
    publish_time: str | None = None


class _Push(msgspec.Struct):
    message: _PushMessage
    subscription: str = ""


class _SuggestionResponse(msgspec.Struct, rename="camel"):
    postback_data: str = ""
    text: str = ""
    type: str = ""


class _UserEvent(msgspec.Struct, rename="camel"):
    """A user event (DELIVERED, READ, IS_TYPING), a server event (TTL_EXPIRATION_…), or a
    user message (text, suggestionResponse, file, location): RBM sends them all alike."""

    sender_phone_number: str = ""
    agent_id: str = ""
    event_type: str | None = None
    event_id: str = ""
    message_id: str | None = None
    send_time: str | None = None
    text: str | None = None
    suggestion_response: _SuggestionResponse | None = None


_RECEIPTS: Final[dict[str, Literal["delivered", "read", "failed"]]] = {
    "DELIVERED": "delivered",
    "READ": "read",
    # RBM withdrew the message when its expireTime passed undelivered
    "TTL_EXPIRATION_REVOKED": "failed",
}


class _Malformed(Exception):
    pass


# --- the handler ------------------------------------------------------------------------------


def _error(status: int, error: str) -> WebhookReply:
    return WebhookReply(status, msgspec.json.encode({"error": error}))


def webhook_handler(clock: Clock | None = None) -> WebhookHandler:
    """A handler for `POST /webhooks/rcs/{sender_id}`; `clock` dates events without a time."""
    the_clock = clock if clock is not None else SystemClock()

    async def handle(inbound: Inbound) -> WebhookReply:
        return _handle(inbound, the_clock)

    return handle


def _handle(inbound: Inbound, clock: Clock) -> WebhookReply:
    sender = inbound.sender
    handshake = _as_handshake(inbound.body)
    if handshake is not None:
        expected = sender.webhook_secret.encode()
        if expected and hmac.compare_digest(expected, handshake.client_token.encode()):
            log.info("rbm webhook handshake for %s", sender.id)
            return WebhookReply(200, handshake.secret.encode(), content_type="text/plain")
        log.warning("rbm webhook handshake for %s with a wrong client token", sender.id)
        return _error(401, "wrong client token")
    given = inbound.headers.get(SIGNATURE_HEADER, "").strip()
    if not given or not sender.webhook_secret:
        log.warning("rbm push for %s without a signature", sender.id)
        return _error(401, "bad signature")
    try:
        push = msgspec.json.decode(inbound.body, type=_Push)
        data = base64.b64decode(push.message.data, validate=True)
    except (msgspec.DecodeError, msgspec.ValidationError, binascii.Error, ValueError):
        log.warning("malformed rbm push for %s", sender.id)
        return _error(400, "malformed push")
    expected_signature = signature(data, sender.webhook_secret)
    if not hmac.compare_digest(expected_signature.encode(), given.encode(errors="replace")):
        log.warning("rbm push for %s with a bad signature", sender.id)
        return _error(401, "bad signature")
    try:
        events = _events(data, sender.id, push.message.publish_time, clock)
    except (msgspec.DecodeError, msgspec.ValidationError, _Malformed) as exc:
        log.warning("malformed rbm event for %s: %s", sender.id, exc)
        return _error(400, "malformed event")
    return WebhookReply(200, b"", content_type="text/plain", events=events)


def _as_handshake(body: bytes) -> _Handshake | None:
    try:
        value: Any = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None
    if not isinstance(value, dict) or "clientToken" not in value or "message" in value:
        return None
    try:
        return msgspec.convert(value, type=_Handshake)
    except msgspec.ValidationError:
        return None


def _events(
    data: bytes, sender_id: str, publish_time: str | None, clock: Clock
) -> tuple[Event, ...]:
    event = msgspec.json.decode(data, type=_UserEvent)
    at_ms = rfc3339_ms(event.send_time) or rfc3339_ms(publish_time) or clock.now_ms()
    if event.event_type is not None:
        state = _RECEIPTS.get(event.event_type)
        if state is None:
            return ()  # IS_TYPING, TTL_EXPIRATION_REVOKE_FAILED, events we do not use
        if not event.message_id:
            raise _Malformed(f"{event.event_type} without a messageId")
        reason = event.event_type if state == "failed" else None
        # the messageId is ours (the attempt's id): it settles a send in doubt too
        return (
            DeliveryReport(
                CHANNEL, event.message_id, state, at_ms, reason, attempt_id=event.message_id
            ),
        )
    if event.suggestion_response is None and event.text is None:
        return ()  # a file, a location, …
    if not event.sender_phone_number:
        raise _Malformed("a user message without senderPhoneNumber")
    phone = event.sender_phone_number
    if event.suggestion_response is not None:
        tapped = event.suggestion_response
        incoming = _inbound(event, tapped.text or tapped.postback_data, sender_id, at_ms)
        survey = parse_survey_postback(tapped.postback_data)
        if survey is None:
            return (incoming,)  # a reply or an action that is not a survey option
        message_id, option = survey
        return (SurveyAnswer(CHANNEL, sender_id, phone, option, message_id, at_ms), incoming)
    # Typed text names no message: the engine takes it for the newest survey, if any.
    assert event.text is not None
    return (
        SurveyAnswer(CHANNEL, sender_id, phone, event.text, None, at_ms),
        _inbound(event, event.text, sender_id, at_ms),
    )


def _inbound(event: _UserEvent, text: str, sender_id: str, at_ms: int) -> InboundMessage:
    return InboundMessage(
        CHANNEL,
        event.sender_phone_number,
        event.agent_id or sender_id,
        text,
        at_ms,
        provider_id=event.message_id or None,
    )


_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def rfc3339_ms(value: str | None) -> int | None:
    """Epoch milliseconds of an RFC 3339 timestamp (Google writes up to 9 fraction digits)."""
    if not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[:digits][:6].ljust(6, '0')}{rest[digits:]}"
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (moment - _EPOCH) // dt.timedelta(milliseconds=1)


handle_webhook: Final = webhook_handler()
WEBHOOK_ROUTE: Final = WebhookRoute(channel=CHANNEL, handler=handle_webhook)
