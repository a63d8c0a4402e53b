"""The message as the contract defines it (SPEC A3): types, routes, limits, validation.

`validate` turns one decoded request item into a `Draft`, or raises `RequestRejected`
naming the field. It is pure: time, the account's defaults and variables, and the short
link code generator come in as arguments.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal, Protocol

from cascade.domain.content import Step
from cascade.domain.errors import RequestRejected
from cascade.domain.phone import is_e164
from cascade.domain.variables import (
    RawVariable,
    ShortLink,
    VariableKey,
    inline_variables,
    is_absolute_http_url,
    render,
    whole_number,
)


class MessageType(StrEnum):
    TRANSACTION = "transaction"
    PROMO = "promo"
    VIBER_SURVEY = "viber_survey"
    FLASHCALL = "flashcall"


class Route(StrEnum):
    STANDARD = "standard"
    TG_VIBER = "tg-viber"


class Status(StrEnum):
    SCHEDULED = "scheduled"
    PROCESSING = "processing"
    DELIVERED = "delivered"
    READ = "read"
    UNDELIVERABLE = "undeliverable"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


DEFAULT_TTL: Mapping[MessageType, int] = {
    MessageType.TRANSACTION: 86_400,
    MessageType.PROMO: 259_200,
    MessageType.VIBER_SURVEY: 604_800,
    MessageType.FLASHCALL: 300,
}

MAX_TTL = 2_592_000  # 30 days
MAX_TEXT = 4096
MAX_SURVEY_TEXT = 85
SURVEY_OPTIONS = (2, 5)
MAX_SURVEY_OPTION = 30
MAX_TRACKING_ID = 255
MAX_FROM_NAME = 28  # Viber's sender-name limit
MAX_SCHEDULE_AHEAD_MS = 30 * 86_400_000
MAX_BATCH = 5000
# What a sender name may not hold: C0 and C1 controls, line and paragraph separators, and
# the invisible format characters that reorder or hide text (bidi controls, zero widths).
# A regex character class, so the OpenAPI document carries the very same rule.
NAME_FORBIDDEN = (
    r"\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
)
_NAME_FORBIDDEN = re.compile(f"[{NAME_FORBIDDEN}]")
MAX_VARIABLES = 256  # inline, per message: more than a 4,096-character text has places for
MAX_UPLOAD_VARIABLES = 5000  # per POST /api/items, as many as messages per send

Form = Literal["array", "envelope"]


class RawFallback(Protocol):
    @property
    def message_type(self) -> str | None: ...
    @property
    def text(self) -> str | None: ...


class RawMessage(Protocol):
    """One item of a send request as decoded from JSON; every field may be absent."""

    @property
    def id(self) -> str | None: ...
    @property
    def from_name(self) -> str | None: ...
    @property
    def to_phone(self) -> str | None: ...
    @property
    def recipient(self) -> str | None: ...
    @property
    def message_type(self) -> str | None: ...
    @property
    def text(self) -> str | None: ...
    @property
    def survey_options(self) -> Sequence[str] | None: ...
    @property
    def ttl(self) -> int | float | None: ...
    @property
    def scheduled_sent(self) -> str | None: ...
    @property
    def scheduled_time(self) -> str | None: ...
    @property
    def variables(self) -> Sequence[RawVariable] | None: ...
    @property
    def fallback(self) -> RawFallback | None: ...
    @property
    def image_url(self) -> str | None: ...
    @property
    def button_text(self) -> str | None: ...
    @property
    def button_url(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Fallback:
    message_type: MessageType
    text: str


@dataclass(frozen=True, slots=True)
class Draft:
    """A valid message, rendered, not yet stored."""

    tracking_id: str | None  # None: the messageId doubles as tracking id (envelope form)
    fingerprint: bytes
    route: Route
    message_type: MessageType
    from_name: str
    phone: str
    text: str | None  # None only for flashcall
    survey_options: tuple[str, ...]
    fallback: Fallback | None
    ttl: int
    created_at_ms: int
    scheduled_at_ms: int | None
    due_at_ms: int
    expires_at_ms: int
    short_links: tuple[ShortLink, ...]
    media: Mapping[str, str] | None = None  # promo image/button (a Cascade extension)
    # an explicit plan (the core API: its primary step, then each fallback, each with its
    # own content): it replaces the route; empty, the route's steps carry the fields above
    plan: tuple[Step, ...] = ()


@dataclass(frozen=True, slots=True)
class Context:
    """What validation needs besides the item itself."""

    form: Form
    route: Route
    now_ms: int
    default_from_name: str
    account_variables: Mapping[VariableKey, str]
    link_base: str
    new_code: Callable[[], str]


def parse_schedule(value: str, now_ms: int, field: str = "scheduledSent") -> int:
    """ISO 8601 → epoch ms. No offset means UTC; beyond 30 days ahead is refused."""
    _printable(value, field)  # Python's parser passes over a NUL in a date
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RequestRejected(
            "INVALID_SCHEDULE", f"{field} must be an ISO 8601 date-time", field
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    at_ms = int(moment.timestamp() * 1000)
    if at_ms - now_ms > MAX_SCHEDULE_AHEAD_MS:
        raise RequestRejected("INVALID_SCHEDULE", f"{field} may be at most 30 days ahead", field)
    return at_ms


def validate(raw: RawMessage, fingerprint: bytes, ctx: Context) -> Draft:
    array = ctx.form == "array"

    tracking_id = raw.id
    if tracking_id is None:
        if array:
            raise _missing("id")
    elif not 1 <= len(tracking_id) <= MAX_TRACKING_ID:
        raise RequestRejected("INVALID_ID", "id must be 1-255 characters", "id")
    else:
        _printable(tracking_id, "id")

    from_name = raw.from_name
    if from_name is None:
        if array:
            raise _missing("fromName")
        from_name = ctx.default_from_name
    elif not 1 <= len(from_name) <= MAX_FROM_NAME:
        raise RequestRejected("INVALID_FROM_NAME", "fromName must be 1-28 characters", "fromName")
    else:
        _printable(from_name, "fromName")
        if _NAME_FORBIDDEN.search(from_name):  # a sender name is one line: no CR, LF, bidi
            raise RequestRejected(
                "INVALID_FROM_NAME",
                "fromName must not hold control, format or line-separator characters",
                "fromName",
            )

    phone, phone_field = raw.to_phone, "toPhone"
    if phone is None:
        phone, phone_field = raw.recipient, "recipient"
        if phone is None:
            raise _missing("toPhone")
    if not is_e164(phone):
        raise RequestRejected(
            "INVALID_PHONE",
            "Invalid phone number format: E.164 expected (+, country code, 8-15 digits)",
            phone_field,
        )

    type_name = raw.message_type
    if type_name is None:
        if array:
            raise _missing("messageType")
        type_name = MessageType.TRANSACTION
    try:
        message_type = MessageType(type_name)
    except ValueError:
        raise RequestRejected(
            "INVALID_MESSAGE_TYPE",
            "messageType must be one of transaction, promo, viber_survey, flashcall",
            "messageType",
        ) from None

    ttl = DEFAULT_TTL[message_type] if raw.ttl is None else whole_number(raw.ttl, "ttl")
    if not 1 <= ttl <= MAX_TTL:
        raise RequestRejected("INVALID_TTL", "ttl must be 1-2592000 seconds", "ttl")

    # scheduledTime is an alias: each one given must be a date; scheduledSent wins
    scheduled_at_ms: int | None = None
    for value, field in (
        (raw.scheduled_time, "scheduledTime"),
        (raw.scheduled_sent, "scheduledSent"),
    ):
        if value is not None:
            scheduled_at_ms = parse_schedule(value, ctx.now_ms, field)
    due_at_ms = max(ctx.now_ms, scheduled_at_ms or 0)

    inline: dict[VariableKey, str] = {}
    if raw.variables:
        if len(raw.variables) > MAX_VARIABLES:
            raise RequestRejected(
                "TOO_MANY_VARIABLES",
                f"A message carries at most {MAX_VARIABLES} variables",
                "variables",
            )
        inline = inline_variables(raw.variables)
    links: dict[str, ShortLink] = {}

    def rendered(text: str, field: str) -> str:
        try:
            return render(
                text,
                inline,
                ctx.account_variables,
                link_base=ctx.link_base,
                new_code=ctx.new_code,
                links=links,
            )
        except RequestRejected as err:
            raise RequestRejected(err.code, err.message, field) from None

    text: str | None = raw.text
    if text is None or text == "":
        if message_type is not MessageType.FLASHCALL:
            raise _missing("text")
        text = None
    else:
        text = rendered(text, "text")
        _printable(text, "text")
        limit = MAX_SURVEY_TEXT if message_type is MessageType.VIBER_SURVEY else MAX_TEXT
        if len(text) > limit:
            raise RequestRejected(
                "TEXT_TOO_LONG", f"text must be at most {limit} characters", "text"
            )

    options: tuple[str, ...] = ()
    if message_type is MessageType.VIBER_SURVEY:
        options = _survey_options(raw.survey_options)

    fallback: Fallback | None = None
    if message_type is MessageType.FLASHCALL and raw.fallback is not None:
        fallback = _fallback(raw.fallback, rendered)

    media = _media(raw) if message_type is MessageType.PROMO else None

    return Draft(
        tracking_id=tracking_id,
        fingerprint=fingerprint,
        route=ctx.route,
        message_type=message_type,
        from_name=from_name,
        phone=phone,
        text=text,
        survey_options=options,
        fallback=fallback,
        ttl=ttl,
        created_at_ms=ctx.now_ms,
        scheduled_at_ms=scheduled_at_ms,
        due_at_ms=due_at_ms,
        expires_at_ms=due_at_ms + ttl * 1000,
        short_links=tuple(links.values()),
        media=media,
    )


def _survey_options(options: Sequence[str] | None) -> tuple[str, ...]:
    if options is None:
        raise _missing("surveyOptions")
    low, high = SURVEY_OPTIONS
    if not low <= len(options) <= high:
        raise RequestRejected(
            "INVALID_SURVEY", "surveyOptions must hold 2-5 options", "surveyOptions"
        )
    for index, option in enumerate(options):
        _printable(option, f"surveyOptions[{index}]")
        if not 1 <= len(option) <= MAX_SURVEY_OPTION:
            raise RequestRejected(
                "INVALID_SURVEY",
                "each survey option must be 1-30 characters",
                f"surveyOptions[{index}]",
            )
    return tuple(options)


def _fallback(raw: RawFallback, rendered: Callable[[str, str], str]) -> Fallback:
    type_name = raw.message_type or MessageType.TRANSACTION
    if type_name not in (MessageType.TRANSACTION, MessageType.PROMO):
        raise RequestRejected(
            "INVALID_FALLBACK",
            "fallback.messageType must be transaction or promo",
            "fallback.messageType",
        )
    if not raw.text:
        raise _missing("fallback.text")
    text = rendered(raw.text, "fallback.text")
    _printable(text, "fallback.text")
    if len(text) > MAX_TEXT:
        raise RequestRejected(
            "TEXT_TOO_LONG", f"text must be at most {MAX_TEXT} characters", "fallback.text"
        )
    return Fallback(MessageType(type_name), text)


MAX_BUTTON_TEXT = 30


def _media(raw: RawMessage) -> Mapping[str, str] | None:
    """A promo's image and button: absolute http(s) URLs; a button needs text and URL."""
    found: dict[str, str] = {}
    for field, value in (("imageUrl", raw.image_url), ("buttonUrl", raw.button_url)):
        if value is not None:
            if not is_absolute_http_url(value):
                raise RequestRejected(
                    "INVALID_URL", f"{field} must be an absolute http(s) URL", field
                )
            found[field] = value
    if raw.button_text is not None:
        if not 1 <= len(raw.button_text) <= MAX_BUTTON_TEXT:
            raise RequestRejected(
                "INVALID_BUTTON", "buttonText must be 1-30 characters", "buttonText"
            )
        _printable(raw.button_text, "buttonText")
        found["buttonText"] = raw.button_text
    if ("buttonText" in found) != ("buttonUrl" in found):
        raise RequestRejected(
            "INVALID_BUTTON",
            "a button needs buttonText and buttonUrl",
            "buttonText" if "buttonText" not in found else "buttonUrl",
        )
    return found or None


def _printable(value: str, field: str) -> None:
    """NUL is valid in JSON strings but in no message, and PostgreSQL cannot store it."""
    if "\x00" in value:
        raise RequestRejected("INVALID_CHARACTER", "NUL characters are not allowed", field)


def _missing(field: str) -> RequestRejected:
    return RequestRejected("MISSING_FIELD", f"{field} is required", field)
