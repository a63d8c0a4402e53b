"""The seam between the delivery engine and a channel.

A channel package declares its limits as data, implements `Channel.send` (one outbound
message → one `Outcome`), and may declare webhook routes that turn a provider's inbound
HTTP request into a reply plus domain `Event`s (`cascade.domain.events`). Channel packages
never import the web framework or the store: the API layer mounts their routes, and the
engine applies their events, so a channel is testable with nothing but a mocked HTTP
transport.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import msgspec

from cascade.domain.events import Event

# --- what a channel is --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Limits:
    """A channel's limits, as data the engine reads."""

    max_text: int  # longer text skips the channel (SPEC B2: content it cannot carry)
    per_sender_per_second: float | None  # e.g. Telegram: 30 messages/s per bot
    per_recipient_per_second: float | None  # e.g. Telegram: 1 message/s per chat
    confirms_delivery: bool  # False: the provider accepting the message is delivery
    delivery_window_s: int  # default time to wait for a confirmation
    carries_survey: bool = False  # can present survey options (keyboard, replies); else
    # the options go as numbered lines of text
    carries_media: bool = False  # can show a promo image and button; else text + link


class Sender(msgspec.Struct, frozen=True):
    """The bot (or provider account) that carries a step; the token never leaves here."""

    id: str
    token: str
    webhook_secret: str = ""  # Telegram's secret_token for the updates webhook


class Outbound(msgspec.Struct, frozen=True):
    attempt_id: str  # unique per attempt: safe as a provider-side idempotency key
    message_id: str
    phone: str
    address: str  # the channel's own recipient id: chat id, Viber user id, phone
    text: str
    from_name: str
    message_type: str  # transaction, promo, viber_survey, flashcall
    survey_options: tuple[str, ...]
    ttl_remaining_s: int
    sender: Sender
    # promo extras, for channels that carry them (others get them folded into the text)
    image_url: str | None = None
    button_text: str | None = None
    button_url: str | None = None


# --- what a send can come to ---------------------------------------------------------------


class Delivered(msgspec.Struct, frozen=True):
    """The provider took the message, and for this channel that is delivery."""

    provider_id: str


class Sent(msgspec.Struct, frozen=True):
    """The provider took the message; delivery is confirmed later by a report."""

    provider_id: str
    parts: int | None = None  # SMS: how many segments the text went out as
    part_ids: tuple[str, ...] = ()  # SMS: every segment's id (receipts may name any)
    detail: str | None = None  # shown in the status, e.g. a flash call's caller pattern
    secret: str | None = None  # what the recipient must give back (a flash call's code):
    # stored only as a hash, for POST /api/CascadeMessage/verify


class Unreachable(msgspec.Struct, frozen=True):
    """This recipient cannot be reached on this channel (not a user, blocked, no device)."""

    reason: str
    blocked: bool = False  # the recipient blocked the sender: remember it on the contact


class Failed(msgspec.Struct, frozen=True):
    """The provider refused the message for good (content, account)."""

    reason: str


class Retry(msgspec.Struct, frozen=True):
    """A transient fault (timeout, 5xx): the same send may succeed later."""

    reason: str


class InDoubt(msgspec.Struct, frozen=True):
    """The request may have reached the provider, but no answer came back (a read timeout,
    a connection cut mid-answer). Repeating it could deliver twice, so it is not repeated."""

    reason: str


class Throttled(msgspec.Struct, frozen=True):
    """The provider asked us to slow down: pause the sender, fail nothing."""

    retry_after_s: float
    reason: str = "THROTTLED"


class Misconfigured(msgspec.Struct, frozen=True):
    """The sender's configuration is wrong (e.g. an invalid token): the operator must act."""

    reason: str


Outcome = Delivered | Sent | Unreachable | Failed | Retry | InDoubt | Throttled | Misconfigured


class Channel(Protocol):
    name: str
    limits: Limits

    async def send(self, out: Outbound) -> Outcome: ...
    async def aclose(self) -> None: ...


EventSink = Callable[[Sequence[Event]], Awaitable[None]]


@runtime_checkable
class SessionChannel(Channel, Protocol):
    """A channel holding a session of its own (SMPP): reports arrive on it, not by HTTP.

    The engine calls `start` once, before the first send, with where to put what the
    session receives (delivery receipts); `aclose` ends the session.
    """

    async def start(self, sink: EventSink) -> None: ...


Depart = Callable[[], Awaitable[bool]]
"""Called by a send right before its request leaves the process: True once the intent to
send is committed, False if it could not be (then nothing may leave)."""


@runtime_checkable
class DepartureGated(Protocol):
    """A channel whose send may wait inside it before anything leaves (an SMPP window
    slot): it calls `depart` at the last moment, so that a crash while it waits leaves no
    send in doubt that never left. Other channels' requests leave as soon as they are
    called, and the engine commits their intent just before."""

    async def send_when(self, out: Outbound, depart: Depart) -> Outcome: ...


@runtime_checkable
class Revocable(Protocol):
    """A channel that can withdraw a message not yet delivered (RBM's revoke): the engine
    calls it when the step's window ends, so a late delivery cannot follow the next step."""

    async def revoke(self, sender: Sender, phone: str, provider_id: str) -> None: ...


# --- what comes back in through webhooks ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Inbound:
    """An inbound webhook request, framework-free."""

    sender: Sender
    headers: Mapping[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True, slots=True)
class WebhookReply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    events: tuple[Event, ...] = field(default_factory=tuple)


WebhookHandler = Callable[[Inbound], Awaitable[WebhookReply]]


@dataclass(frozen=True, slots=True)
class WebhookRoute:
    """`POST /webhooks/{channel}/{sender_id}` is served by `handler` for `channel`."""

    channel: str
    handler: WebhookHandler
