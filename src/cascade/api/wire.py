"""What travels on the wire: request and response shapes as msgspec Structs.

Every field of a request item is optional here; which ones are required depends on the
body's form (array or envelope) and is decided by `cascade.domain.message.validate`.
Unknown fields are ignored, for forward compatibility.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Final, TypeVar

import msgspec

from cascade.callback_url import parse_callback_url
from cascade.domain.dry_run import Decision, RoutePreview
from cascade.domain.errors import RequestRejected
from cascade.domain.prices import amount_number
from cascade.domain.surfaces import iso


class VariableIn(msgspec.Struct, frozen=True):
    id: int | float | str  # JSON has numbers: 7.0 is 7, 7.5 no id (the domain decides)
    value: str
    type: str | None = None


class FallbackIn(msgspec.Struct, frozen=True, rename="camel"):
    message_type: str | None = None
    text: str | None = None


class MessageIn(msgspec.Struct, frozen=True, rename="camel"):
    id: str | None = None
    from_name: str | None = None
    to_phone: str | None = None
    recipient: str | None = None
    message_type: str | None = None
    text: str | None = None
    survey_options: list[str] | None = None
    ttl: int | float | None = None  # 60.0 is 60 seconds; 60.5 is refused
    scheduled_sent: str | None = None
    scheduled_time: str | None = None
    variables: list[VariableIn] | None = None
    fallback: FallbackIn | None = None
    # Cascade extensions (promo): where a channel cannot show them, the link goes in the text
    image_url: str | None = None
    button_text: str | None = None
    button_url: str | None = None


class Envelope(msgspec.Struct, frozen=True):
    messages: list[MessageIn]


class ItemsIn(msgspec.Struct, frozen=True):
    variables: list[VariableIn]


# what a callback URL hears: every status change (the default), or every message people
# send back (SPEC D7); the store's CallbackKind values
CALLBACK_KINDS: Final = ("status", "incoming")
KIND_HINT: Final = 'kind is "status" or "incoming"'


class CallbackIn(msgspec.Struct, frozen=True):
    url: str
    kind: str = "status"


class VerifyIn(msgspec.Struct, frozen=True, rename="camel"):
    message_id: str
    code: str


class CancelIn(msgspec.Struct, frozen=True):
    """`POST /api/CascadeMessage/cancel` (SPEC A9): one of the two lists."""

    # absent, not null: a null list is a type error, as the document says
    messageIds: list[str] | msgspec.UnsetType = msgspec.UNSET  # noqa: N815 - wire name
    trackingIds: list[str] | msgspec.UnsetType = msgspec.UNSET  # noqa: N815 - wire name


class CancelledOut(msgspec.Struct, frozen=True, omit_defaults=True):
    """One id's answer: `cancelled`, `cancelling`, a final status, or `not_found` (then
    without `messageId`)."""

    id: str
    status: str
    messageId: str | None = None  # noqa: N815 - the API's wire name


class Accepted(msgspec.Struct, frozen=True, omit_defaults=True):
    messageId: str  # noqa: N815 - the provider's wire name
    trackinId: str  # noqa: N815 - spelled so in the provider's API
    # a Cascade extension (SPEC A4 allows extra fields)
    repeated: Annotated[
        bool,
        msgspec.Meta(
            description="Cascade extension: true when this id was accepted before with the "
            "same content (an idempotent repeat): the original message, nothing sent again. "
            "Absent for a new message."
        ),
    ] = False


class ErrorDetail(msgspec.Struct, frozen=True, omit_defaults=True):
    code: str
    message: str
    field: str | None = None


class ErrorBody(msgspec.Struct, frozen=True):
    error: ErrorDetail


class AttemptOut(msgspec.Struct, frozen=True, omit_defaults=True):
    channel: str
    status: str
    startedAt: str  # noqa: N815
    finishedAt: str | None = None  # noqa: N815
    reason: str | None = None
    providerMessageId: str | None = None  # noqa: N815
    parts: int | None = None  # SMS segments
    detail: str | None = None  # e.g. a flash call's caller number pattern


class RouteStepOut(msgspec.Struct, frozen=True, omit_defaults=True):
    """One step of a dry run's route (SPEC A9): `will_try` with its window, the latest
    instant it could start within the TTL, its parts and price; or `skip` and why."""

    step: int
    channel: str
    decision: Decision
    reason: str | None = None
    windowSeconds: int | None = None  # noqa: N815 - the API's wire names
    latestStartAt: str | None = None  # noqa: N815
    parts: int | None = None
    price: Decimal | None = None  # a JSON number (DRY_RUN_ENCODER)


class RouteOut(msgspec.Struct, frozen=True):
    """A message's route now, and how it ends if no step it tries is confirmed."""

    steps: list[RouteStepOut]
    endsUnconfirmed: str  # noqa: N815 - the status if no tried step is confirmed
    endReason: str | None  # noqa: N815
    currency: str | None
    expectedCost: Decimal | None  # noqa: N815 - the first tried step's price
    maxCost: Decimal | None  # noqa: N815 - every tried step's price together


class DryRunOut(msgspec.Struct, frozen=True):
    """One message of a Cascade dry run's answer: its tracking id (when it has one) and
    its route; no messageId, since nothing is stored — but for a repeat of a message
    stored before, which carries that message's id and no route (nothing is sent again)."""

    trackinId: str | None  # noqa: N815 - spelled so, as in the provider's answer
    dryRun: bool  # noqa: N815 - always true
    route: RouteOut | None
    messageId: str | msgspec.UnsetType = msgspec.UNSET  # noqa: N815


DRY_RUN_ENCODER = msgspec.json.Encoder(decimal_format="number")


def route_out(preview: RoutePreview) -> RouteOut:
    def money(amount: Decimal | None) -> Decimal | None:
        return amount_number(amount) if amount is not None else None

    return RouteOut(
        steps=[
            RouteStepOut(
                step=s.step,
                channel=s.channel,
                decision=s.decision,
                reason=s.reason,
                windowSeconds=s.window_s,
                latestStartAt=iso(s.latest_start_ms),
                parts=s.parts,
                price=money(s.price),
            )
            for s in preview.steps
        ],
        endsUnconfirmed=preview.end_status,
        endReason=preview.end_reason,
        currency=preview.currency,
        expectedCost=money(preview.expected_cost),
        maxCost=money(preview.max_cost),
    )


class StatusOut(msgspec.Struct, frozen=True):
    messageId: str  # noqa: N815
    trackinId: str  # noqa: N815
    status: str
    channel: str | None
    reason: str | None
    messageType: str  # noqa: N815
    route: str
    text: str | None
    createdAt: str  # noqa: N815
    scheduledAt: str | None  # noqa: N815
    expiresAt: str  # noqa: N815
    updatedAt: str  # noqa: N815
    attempts: list[AttemptOut]
    clicks: int
    surveyAnswer: str | None = None  # noqa: N815
    # a Cascade extension (A9): when a cancel was asked for while a step was in flight
    cancelRequestedAt: str | None = None  # noqa: N815


SendBody = list[MessageIn] | Envelope
_T = TypeVar("_T")

_send_decoder = msgspec.json.Decoder(SendBody)
_items_decoder = msgspec.json.Decoder(ItemsIn)
_callback_decoder = msgspec.json.Decoder(CallbackIn)
_verify_decoder = msgspec.json.Decoder(VerifyIn)
_cancel_decoder = msgspec.json.Decoder(CancelIn)
_ITEM = re.compile(r"(messages|variables)?(\[[0-9]+\])?")
_AT = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)

SHAPE_HINT = 'Body must be a JSON array of messages or an object with a "messages" array'


def decode_send(body: bytes) -> list[MessageIn] | Envelope:
    decoded: list[MessageIn] | Envelope = _decode(_send_decoder, body, SHAPE_HINT)
    return decoded


def decode_verify(body: bytes) -> VerifyIn:
    wanted: VerifyIn = _decode(_verify_decoder, body, 'Body must be {"messageId", "code"}')
    return wanted


def given(value: list[str] | msgspec.UnsetType) -> list[str] | None:
    """A list field as sent, or None when it was left out."""
    return None if isinstance(value, msgspec.UnsetType) else value


def decode_cancel(body: bytes) -> CancelIn:
    wanted: CancelIn = _decode(
        _cancel_decoder, body, 'Body must be {"messageIds": [...]} or {"trackingIds": [...]}'
    )
    return wanted


def decode_callback(body: bytes) -> CallbackIn:
    wanted: CallbackIn = _decode(
        _callback_decoder, body, 'Body must be {"url": "https://…", "kind"?: "status"}'
    )
    callback_kind(wanted.kind)
    parse_callback_url(wanted.url)  # its shape; its addresses are the handler's to check
    return wanted


def callback_kind(value: str) -> str:
    """`value` if it names a kind of callback, else RequestRejected (INVALID_KIND)."""
    if value not in CALLBACK_KINDS:
        raise RequestRejected("INVALID_KIND", KIND_HINT, "kind")
    return value


def decode_items(body: bytes) -> ItemsIn:
    return _decode(_items_decoder, body, 'Body must be an object with a "variables" array')


# No message nests deeper than 4 (envelope, messages, a message, its variables); the rest
# is room for unknown fields, which are ignored but must not take the decoder's stack.
MAX_JSON_DEPTH = 32

_ESCAPES = (b"\\\\", b'\\"')  # an escaped backslash, then an escaped quote
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b'"[]{}')))
_NOT_BRACKET = bytes(sorted(set(range(256)) - set(b"[]{}")))
_AS_PARENS = bytes.maketrans(b"[{]}", b"(())")
_BRACKETED_STRING = re.compile(rb'"[^"]*"')


def nested_deeper_than(body: bytes, limit: int) -> bool:
    """Whether the JSON text nests arrays and objects more than `limit` deep.

    Brackets inside strings do not count. The text is cut down to its structure (quotes
    and brackets, escapes dropped) and emptied one level at a time, all in C: about 10 ms
    for a 5,000-message batch, and nothing for a body with no more than `limit` brackets.
    Malformed text answers False and is left to the decoder to reject.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    backslash, quote = _ESCAPES
    shape = body.replace(backslash, b"").replace(quote, b"").translate(None, _NOT_STRUCTURE)
    shape = shape.replace(b'""', b"")  # the strings that hold no bracket
    if b'"' in shape:
        shape = _BRACKETED_STRING.sub(b"", shape)
    shape = shape.translate(_AS_PARENS, _NOT_BRACKET)
    for _ in range(limit):
        inner = shape.replace(b"()", b"")  # the innermost level
        if not inner or len(inner) == len(shape):
            return False
        shape = inner
    return b"()" in shape


def _decode(decoder: msgspec.json.Decoder[_T], body: bytes, shape_hint: str) -> _T:
    if nested_deeper_than(body, MAX_JSON_DEPTH):
        raise RequestRejected(
            "JSON_TOO_DEEP", f"JSON may nest at most {MAX_JSON_DEPTH} levels deep", None
        )
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as err:
        raise _rejection(str(err), shape_hint) from None
    except (msgspec.DecodeError, UnicodeDecodeError):
        raise RequestRejected("INVALID_JSON", "Malformed JSON", None) from None


def _rejection(text: str, shape_hint: str) -> RequestRejected:
    """Turn msgspec's "Expected `int`, got `str` - at `$[0].ttl`" into our error body."""
    match = _AT.match(text)
    what = match.group("what") if match else text
    path = ((match.group("path") if match else None) or "").removeprefix(".")
    if what.startswith("Object missing required field"):
        name = what.split("`")[1]
        if not path:
            return RequestRejected("INVALID_BODY", shape_hint, None)
        return RequestRejected("MISSING_FIELD", f"{name} is required", f"{path}.{name}")
    if not path:
        return RequestRejected("INVALID_BODY", shape_hint, None)
    if _ITEM.fullmatch(path):
        return RequestRejected("INVALID_BODY", what, path)
    return RequestRejected("INVALID_TYPE", what, path)
