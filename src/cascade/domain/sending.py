"""What a send is and what it can come to: a channel's limits, the sender that carries a
step, the outbound message, and the outcomes a channel reports for it.

The planner (`cascade.domain.planner`) builds the `Outbound` and settles the `Outcome`; a
channel (`cascade.channels.base.Channel`) sends the one and returns the other.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass

import msgspec

from cascade.domain.content import Content, ContentKind

# --- what a send is ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Limits:
    """A channel's limits, as data the engine reads."""

    max_text: int  # longer text skips the channel (SPEC B2: content it cannot carry)
    per_sender_per_second: float | None  # e.g. Telegram: 30 messages/s per bot
    per_recipient_per_second: float | None  # e.g. Telegram: 1 message/s per chat
    confirms_delivery: bool  # False: the provider accepting the message is delivery
    delivery_window_s: int  # default time to wait for a confirmation
    _: KW_ONLY
    # the content it can show (SPEC D3); the rest is folded into text or the step skipped
    # (`Content.fit`): no survey kind, the options go as numbered lines; no image or
    # buttons, a link; no text (a flash call), the text is not sent
    carries: frozenset[ContentKind] = frozenset({ContentKind.TEXT})
    # the provider refuses a second send under the same attempt id (RBM's messageId):
    # a send that may have left can be sent again, never delivered twice
    idempotent_sends: bool = False
    # the channel reaches people as users of an account's bot, known only through
    # contacts: the reason a step is unreachable when the bot has no contact for the phone
    bot_no_contact: str | None = None


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
    # what this step shows, shaped for the channel: only kinds its limits carry
    content: Content
    from_name: str
    message_type: str  # transaction, promo, viber_survey, flashcall
    ttl_remaining_s: int
    sender: Sender

    @property
    def text(self) -> str:
        """The content's text ("" when it has none: a flash call, a template, a medium)."""
        return self.content.text or ""


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
