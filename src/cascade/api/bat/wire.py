"""The core API's shapes on the wire, as msgspec Structs (SPEC D3-D5).

A tolerant reader: every spelling D3 lists decodes (`to` / `recipient`; `ttl` as an
integer or a string of digits; `scheduledSent` / `sheduledSent` / `scheduledTime`; each
`messageData` alias), and unknown fields are ignored. Every field is optional here: which
ones a message needs depends on its type, and is decided by `cascade.domain.bat_message`.

The list is decoded in two stages, so that one malformed message rejects that message
only (D4): the envelope keeps each message as raw JSON, and each is decoded on its own.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from cascade.api.wire import RouteOut

# --- the request -------------------------------------------------------------------------


class ButtonIn(msgspec.Struct, frozen=True):
    """`button: {text, url}` (viber_promo)."""

    text: str | None = None
    url: str | None = None


class SurveyIn(msgspec.Struct, frozen=True):
    options: list[str] | None = None


class ActionIn(msgspec.Struct, frozen=True, rename="camel"):
    """An RCS button's action: openUrl, dial, shareLocation, createCalendarEvent (reply:
    a suggested reply)."""

    type: str | None = None
    url: str | None = None
    phone_number: str | None = None
    title: str | None = None
    description: str | None = None
    start_time: str | None = None
    end_time: str | None = None


class RcsButtonIn(msgspec.Struct, frozen=True):
    text: str | None = None
    action: ActionIn | None = None


class MediaIn(msgspec.Struct, frozen=True):
    url: str | None = None
    type: str | None = None  # image, video (or their MIME types)
    height: str | None = None
    width: str | None = None
    thumbnail: str | None = None


class CardIn(msgspec.Struct, frozen=True):
    title: str | None = None
    description: str | None = None
    media: MediaIn | None = None
    buttons: list[RcsButtonIn] | None = None


class CarouselButtonIn(msgspec.Struct, frozen=True, rename="camel"):
    label: str | None = None
    action_url: str | None = None


class CarouselItemIn(msgspec.Struct, frozen=True, rename="camel"):
    title: str | None = None
    image_url: str | None = None
    primary_button: CarouselButtonIn | None = None
    secondary_button: CarouselButtonIn | None = None


class CarouselIn(msgspec.Struct, frozen=True):
    """Viber's `{items: […]}` or RCS's `{cards: […]}`."""

    items: list[CarouselItemIn] | None = None
    cards: list[CardIn] | None = None


class MessageDataIn(msgspec.Struct, frozen=True, rename="camel"):
    """Every type's `messageData` fields, with their aliases (D3's second table)."""

    # viber_promo
    image: str | None = None
    img: str | None = None
    button_text: str | None = None
    button_action: str | None = None
    button: ButtonIn | None = None
    video: str | None = None
    thumbnail: str | None = None
    file_size: int | None = None
    duration: int | None = None
    # viber_trans
    file_url: str | None = None
    file_name: str | None = None
    file_type: str | None = None
    # viber_otp
    template_id: str | None = None
    template_lang: str | None = None
    template_params: dict[str, str | int] | None = None
    # viber_survey
    survey: SurveyIn | None = None
    options: list[str] | None = None
    survey_options: list[str] | None = None
    # viber_carousel (and viber_promo with a carousel), rcs
    carousel: CarouselIn | None = None
    # rcs
    media: MediaIn | None = None
    buttons: list[RcsButtonIn] | None = None
    suggestions: list[RcsButtonIn] | None = None
    # flashcall
    caller_id: str | int | None = None


class FallbackIn(msgspec.Struct, frozen=True, rename="camel"):
    type: str | None = None
    text: str | None = None
    message_data: MessageDataIn | None = None


class MessageIn(msgspec.Struct, frozen=True, rename="camel"):
    """One message of a list."""

    to: str | int | None = None
    recipient: str | int | None = None
    from_: str | None = msgspec.field(default=None, name="from")
    type: str | None = None
    text: str | None = None
    ttl: int | float | str | None = None
    customer_message_id: str | None = None
    scheduled_sent: str | None = None
    sheduled_sent: str | None = None  # so spelled in some of the provider's documents
    scheduled_time: str | None = None
    message_data: MessageDataIn | None = None
    fallback: FallbackIn | list[FallbackIn] | None = None


class ListIn(msgspec.Struct, frozen=True):
    """The envelope, each message still raw (decoded one by one: `MessageIn`)."""

    messages: list[msgspec.Raw]


# --- the answers ---------------------------------------------------------------------------


class ErrorOut(msgspec.Struct, frozen=True):
    """A rejected message's `error` (D4)."""

    code: int
    message: str
    field: str | None


class AcceptedOut(msgspec.Struct, frozen=True):
    """One message of the answer (D4): accepted, or rejected with its error."""

    messageId: str | None  # noqa: N815 - the provider's wire names
    status: str
    parts: int
    customerMessageId: str | None  # noqa: N815
    to: str | None
    error: ErrorOut | None = msgspec.field(default=None)
    # a flash call from its `callerId`: the code's digits behind stars (D3); absent elsewhere
    pattern: str | msgspec.UnsetType = msgspec.UNSET
    # a dry run's (SPEC A9, a Cascade extension): the route it would take now
    route: RouteOut | msgspec.UnsetType = msgspec.UNSET


class ListOut(msgspec.Struct, frozen=True):
    messagelistId: int | None  # noqa: N815 - None: nothing was stored
    messages: list[AcceptedOut]
    dryRun: bool | msgspec.UnsetType = msgspec.UNSET  # noqa: N815 - true in a dry run


class StepOut(msgspec.Struct, frozen=True):
    """A fallback step's status (D5 `fallbacks[]`)."""

    type: str
    status: str


class StatusOut(msgspec.Struct, frozen=True):
    """A message's status (D5)."""

    messagelistId: int | None  # noqa: N815
    messageId: str  # noqa: N815
    customerMessageId: str | None  # noqa: N815
    to: str
    type: str
    deliverystatus: str
    reason: str | None
    seen: bool
    partscount: int
    cost: Decimal | None  # a JSON number: encoded with decimal_format="number" (ENCODER)
    currency: str | None
    channel: str | None
    fallbacks: list[StepOut]
    extendedStatuses: dict[str, str]  # noqa: N815
    createdAt: str  # noqa: N815
    updatedAt: str  # noqa: N815
    scheduledAt: str | None  # noqa: N815
    expiresAt: str  # noqa: N815
    # a flash call's masked pattern once the call went out (D3); absent for other types
    pattern: str | msgspec.UnsetType = msgspec.UNSET


DEFAULT_PER_PAGE = 100  # a list page's messages, unless `per_page` says
MAX_PER_PAGE = 1000
# a list holds at most 5,000 messages: past this page every page is empty, and the
# offset of any page up to it fits every database's integer
MAX_PAGE = 1_000_000


class ListPageOut(msgspec.Struct, frozen=True):
    """A page of a message list (`GET /bat/messagelist/{id}`, a Cascade extension)."""

    messagelistId: int  # noqa: N815
    createdAt: str  # noqa: N815
    total: int
    page: int
    per_page: int
    messages: list[StatusOut]


class ErrorBody(msgspec.Struct, frozen=True, omit_defaults=True):
    """The D6 error body; `field` is a Cascade addition naming where the fault is."""

    status: int
    error: str
    message: str
    code: int | None = None
    field: str | None = None


# every answer's encoder: a Decimal (a cost) is a JSON number, exactly as held
ENCODER = msgspec.json.Encoder(decimal_format="number")
