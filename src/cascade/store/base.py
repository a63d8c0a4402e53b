"""The store's records and errors: what goes in and comes out of it.

What each consumer may ask of the store is in `cascade.store.protocols`. The records the
engine claims and commits (a claimed message, its attempts, a transition) belong to the
message lifecycle: `cascade.domain.records`. Implementations translate driver errors into
`StoreError` and its subclasses, so no caller ever catches a SQLAlchemy or driver
exception.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, NamedTuple

import msgspec

from cascade.domain.content import Step as PlanStep
from cascade.domain.content import decode_plan
from cascade.domain.events import InboundMessage
from cascade.domain.message import Draft
from cascade.domain.prices import MAX_DECIMAL_PLACES, MAX_INTEGER_DIGITS, Price
from cascade.domain.records import AttemptChange, NewAttempt, Transition
from cascade.domain.surfaces import Surface
from cascade.domain.timeline import (
    HistoryAttempt,
    HistoryClick,
    HistoryReport,
    HistorySkip,
    HistoryWebhook,
    MessageHistory,
)

# The PostgreSQL LISTEN/NOTIFY channel on which the store announces that work came due (a
# new message, a report that moved one on), in the transaction that makes it due; workers
# listen on it (`cascade.engine.wakeup`). SQLite has no such channel.
WAKE_CHANNEL = "cascade_tasks"

IDEMPOTENCY_WINDOW_MS = 86_400_000  # id-less repeats of the same content within a day


def idem_key(fingerprint: bytes, at_ms: int) -> str:
    """An id-less message's key: its content fingerprint + the day it falls in (days are
    the idempotency window's buckets)."""
    return f"{fingerprint.hex()}:{at_ms // IDEMPOTENCY_WINDOW_MS}"


class StoreError(Exception):
    """Storage failed (unreachable, constraint, corruption): a server fault, never the client's."""


class Conflict(StoreError):
    """A uniqueness rule refused a write (a concurrent writer got there first)."""


class TrackingIdConflict(StoreError):
    """A tracking id is already stored for the account with different content."""

    def __init__(self, index: int) -> None:
        super().__init__(f"tracking id of item {index} is taken by different content")
        self.index = index


class LoginTaken(StoreError):
    """A login name belongs to another account (login names are unique)."""

    def __init__(self, login: str) -> None:
        super().__init__(f"login {login!r} belongs to another account")
        self.login = login


class NotFound(LookupError):
    """A write named a record the account does not have (`what`: "account",
    "organization", "bot"): the caller's mistake, never a fault of the store."""

    def __init__(self, what: str, key: object) -> None:
        super().__init__(f"no {what} {key}")
        self.what = what
        self.key = key


class CredentialKind(StrEnum):
    API_KEY = "key"
    BOT = "bot"  # a bot's token: its credential names the bot and the bot's channel


class CallbackKind(StrEnum):
    """What a callback URL hears: status changes (SPEC C, D7) or incoming messages (D7)."""

    STATUS = "status"
    INCOMING = "incoming"


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    name: str
    default_from_name: str
    send_rate: float | None
    send_burst: int | None
    status_rate: float | None
    status_burst: int | None
    channel_order: tuple[str, ...] | None = None  # None: every configured channel
    suspended: bool = False  # its credentials are refused (403 on the core SMSBAT API)


@dataclass(frozen=True, slots=True)
class Credential:
    account_id: str
    kind: CredentialKind
    bot_id: str | None  # set for bot tokens
    channel: str | None = None  # the bot's channel


@dataclass(frozen=True, slots=True)
class Login:
    """An account's login (HTTP Basic on the core SMSBAT API): its password only as a
    hash (`cascade.security.Passwords`)."""

    login: str
    account_id: str
    password_hash: str


@dataclass(frozen=True, slots=True)
class NewMessage:
    id: str
    draft: Draft
    pinned_bots: tuple[str, ...] = ()  # bots the request's credentials named
    surface: Surface = Surface.CASCADE  # the API it came through: its webhooks' shape


def fresh_count(offered: Sequence[NewMessage], ids: Sequence[str]) -> int:
    """How many of the messages offered to `accept` were stored as new: a repeat (SPEC A7)
    is answered with the id stored before, not the one it was offered."""
    return sum(1 for message, stored in zip(offered, ids, strict=True) if stored == message.id)


@dataclass(frozen=True, slots=True)
class AttemptView:
    channel: str
    status: str
    reason: str | None
    provider_message_id: str | None
    started_at_ms: int
    finished_at_ms: int | None
    parts: int | None = None
    detail: str | None = None
    step: int = 0  # the step of the route or plan it took


@dataclass(frozen=True, slots=True)
class MessageView:
    id: str
    tracking_id: str
    status: str
    channel: str | None
    reason: str | None
    message_type: str
    route: str
    phone: str
    text: str | None
    created_at_ms: int
    scheduled_at_ms: int | None
    expires_at_ms: int
    updated_at_ms: int
    attempts: tuple[AttemptView, ...]
    clicks: int
    survey_answer: str | None = None
    surface: str = "cascade"  # the API it came through
    list_id: int | None = None  # its message list (core API)
    plan: tuple[PlanStep, ...] = ()  # the message's explicit plan, if it has one
    # when a cancel was asked for while a step was in flight (SPEC A9): it is cancelling
    cancel_requested_at_ms: int | None = None


@dataclass(frozen=True, slots=True)
class MessageListView:
    """One page of a core-API message list: its messages in the order they were sent."""

    id: int
    created_at_ms: int
    total: int  # messages in the whole list
    messages: tuple[MessageView, ...]


@dataclass(frozen=True, slots=True)
class SpendRow:
    """A message as the console's spend figures read it: its number, its text, and its
    attempts that the provider took (they have its id; `prices.went_out` says which of
    them are billed)."""

    phone: str
    text: str | None
    attempts: tuple[AttemptView, ...]


Step = tuple[int, int, AttemptView]  # (step, started at, the attempt)


def view_of(row: Any, attempts: list[Step], clicks: int) -> MessageView:
    """A message's view from its row (the `messages` columns, by name), its attempts and
    its clicks, in either store. The steps skipped at once are kept on the message (a JSON
    array); they show among the attempts, in their place."""
    steps = list(attempts)
    for step, channel, status, reason, _sender, at in msgspec.json.decode(row.skipped or "[]"):
        steps.append((step, at, AttemptView(channel, status, reason, None, at, at, step=step)))
    steps.sort(key=lambda s: (s[0], s[1]))
    return MessageView(
        id=row.id,
        tracking_id=row.tracking_id,
        status=row.status,
        channel=row.channel,
        reason=row.reason,
        message_type=row.message_type,
        route=row.route,
        phone=row.phone,
        text=row.text,
        created_at_ms=row.created_at,
        scheduled_at_ms=row.scheduled_at,
        expires_at_ms=row.expires_at,
        updated_at_ms=row.updated_at,
        attempts=tuple(view for _, _, view in steps),
        clicks=clicks,
        survey_answer=row.survey_answer,
        surface=row.surface,
        list_id=row.list_id,
        plan=decode_plan(row.plan) if row.plan else (),
        cancel_requested_at_ms=row.cancel_requested_at,
    )


# --- a message's history (its timeline's input) ----------------------------------------


def history_of(
    row: Any,
    attempts: Sequence[HistoryAttempt],
    reports: Sequence[HistoryReport],
    clicks: Sequence[HistoryClick],
    webhooks: Sequence[HistoryWebhook],
    verified_at_ms: int | None,
) -> MessageHistory:
    """A message's history from its row (the `messages` columns, by name) and what else the
    store keeps of it, in either store; the steps skipped at once come from the row."""
    skipped = tuple(
        HistorySkip(step, channel, status, reason, at)
        for step, channel, status, reason, _sender, at in msgspec.json.decode(row.skipped or "[]")
    )
    return MessageHistory(
        message_id=row.id,
        account_id=row.account_id,
        tracking_id=row.tracking_id,
        surface=row.surface,
        route=row.route,
        message_type=row.message_type,
        phone=row.phone,
        status=row.status,
        channel=row.channel,
        reason=row.reason,
        created_at_ms=row.created_at,
        scheduled_at_ms=row.scheduled_at,
        expires_at_ms=row.expires_at,
        updated_at_ms=row.updated_at,
        attempts=tuple(sorted(attempts, key=lambda a: (a.step, a.started_at_ms))),
        skipped=skipped,
        reports=tuple(sorted(reports, key=lambda r: r.at_ms)),
        clicks=tuple(sorted(clicks, key=lambda c: c.at_ms)),
        webhooks=tuple(webhooks),
        verified_at_ms=verified_at_ms,
        survey_answer=row.survey_answer,
    )


def history_attempt(row: Any) -> HistoryAttempt:
    """An attempt's part of a history from its row (the `attempts` columns, by name)."""
    return HistoryAttempt(
        step=row.step,
        channel=row.channel,
        status=row.status,
        reason=row.reason,
        started_at_ms=row.started_at,
        finished_at_ms=row.finished_at,
        provider_message_id=row.provider_message_id,
        sender_id=row.sender_id,
        parts=row.parts,
        parts_delivered=row.parts_delivered,
        window_ends_at_ms=row.window_ends_at,
        detail=row.detail,
    )


def kept_reports(
    attempt_ids: Collection[str], provider_ids: Collection[tuple[str, str]], orphans: Iterable[Any]
) -> list[HistoryReport]:
    """The kept reports (`orphan_reports` rows, by name) that are about a message: those
    naming one of its attempts, or a (channel, provider id) one of its attempts has."""
    return [
        HistoryReport(o.channel, o.state, o.reason, o.at, o.provider_message_id)
        for o in orphans
        if o.attempt_id in attempt_ids or (o.channel, o.provider_message_id) in provider_ids
    ]


# --- prices -------------------------------------------------------------------------------

_MICROS = Decimal(10) ** MAX_DECIMAL_PLACES  # a price is stored in millionths
_MAX_MICROS = 10 ** (MAX_INTEGER_DIGITS + MAX_DECIMAL_PLACES) - 1


def price_micros(price: Decimal) -> int:
    """A price as stored: an exact integer count of millionths (schema.prices)."""
    micros = price * _MICROS
    if not 0 <= micros <= _MAX_MICROS or micros != micros.to_integral_value():
        raise ValueError(
            f"a price is non-negative, below 10^{MAX_INTEGER_DIGITS}, with at most "
            f"{MAX_DECIMAL_PLACES} decimal places: not {price}"
        )
    return int(micros)


def price_of(row: Any) -> Price:
    """A price from its row (the `prices` columns, by name), in either store: the amount
    a Decimal again, with no trailing zeros (0.015, 2, 0)."""
    value = Decimal(row.price_micros) / _MICROS
    exact = value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()
    return Price(row.channel, row.country_prefix, exact, row.currency)


# --- incoming messages ---------------------------------------------------------------------

INCOMING_PARTS_WAIT_MS = 600_000  # pieces of an SMS this old are stored as what came


@dataclass(frozen=True, slots=True)
class StoredIncoming:
    """An incoming message as stored: `account_id` None when no account could be found."""

    id: str
    account_id: str | None
    channel: str
    phone: str
    to: str
    alpha_name: str
    parts: int = 1
    parts_expected: int = 1


# An SMS from a phone has no id of its own (SMPP 3.4 gives `deliver_sm` none), so one the
# SMSC offers again — its answer lost in a crash — is known by what it says: the same
# channel, phone, address and text, and for a piece of a concatenated SMS the same
# reference, count and number, received within this window of the first. Its limit: two
# identical texts from one phone within the window are one message.
REPEAT_WINDOW_MS = 600_000


class UnderLease(NamedTuple):
    """What a write under a lease may apply, and the messages it refuses."""

    new: Sequence[NewAttempt]
    resent: Sequence[AttemptChange]
    plans: Sequence[Transition]
    results: Sequence[Transition]
    refused: frozenset[str]


def messages_written(
    new: Sequence[NewAttempt],
    resent: Sequence[AttemptChange],
    transitions: Iterable[Transition],
    message_of: Mapping[str, str],
) -> set[str]:
    """The messages an engine write touches (`message_of`: a resent attempt's message)."""
    ids = {a.message_id for a in new} | {tr.message.message_id for tr in transitions}
    return ids | {message_of[c.id] for c in resent if c.id in message_of}


def under_lease(
    written: Collection[str],
    held: Collection[str],
    message_of: Mapping[str, str],
    new: Sequence[NewAttempt],
    resent: Sequence[AttemptChange],
    plans: Sequence[Transition],
    results: Sequence[Transition],
) -> UnderLease:
    """The parts of an engine write (its messages: `written`, see `messages_written`) whose
    message's task the lease still holds (`held`); the rest are refused whole: neither
    its attempts nor its plan nor its result."""
    return UnderLease(
        [a for a in new if a.message_id in held],
        [c for c in resent if message_of.get(c.id) in held],
        [tr for tr in plans if tr.message.message_id in held],
        [tr for tr in results if tr.message.message_id in held],
        frozenset(written).difference(held),
    )


def is_repeat(first_ms: int, again_ms: int) -> bool:
    """Whether a message received at `again_ms` is, by time, the one stored at `first_ms`."""
    return abs(again_ms - first_ms) <= REPEAT_WINDOW_MS


def incoming_row(
    stored: StoredIncoming, text: str, provider_id: str | None, at_ms: int
) -> dict[str, Any]:
    """An `incoming_messages` row, by column (either store)."""
    return {
        "id": stored.id,
        "account_id": stored.account_id,
        "channel": stored.channel,
        "phone": stored.phone,
        "to_address": stored.to,
        "alpha_name": stored.alpha_name,
        "text": text,
        "provider_id": provider_id,
        "parts": stored.parts,
        "parts_expected": stored.parts_expected,
        "received_at": at_ms,
    }


def incoming_part_row(m: InboundMessage) -> dict[str, Any]:
    """An `incoming_parts` row for a piece of an SMS, by column (either store)."""
    assert m.part is not None
    return {
        "channel": m.channel,
        "phone": m.phone,
        "to_address": m.to,
        "reference": m.part.reference,
        "total": m.part.total,
        "number": m.part.number,
        "text": m.text,
        "received_at": m.at_ms,
    }


def address_key(address: str) -> str:
    """How an address a person wrote to is compared with the names an account sends
    under: without a leading '+', whitespace or case (`+380500000000` is
    `380500000000`; `Shop` is `SHOP`)."""
    return address.strip().lstrip("+").lower()


def joined(pieces: Sequence[tuple[int, str, int]]) -> tuple[str, int, int]:
    """A concatenated SMS from its (number, text, received at) pieces: the text joined in
    order (a missing piece leaves nothing in its place), the first piece's time, and how
    many pieces there were."""
    ordered = sorted(pieces)
    return (
        "".join(text for _, text, _ in ordered),
        min(at for _, _, at in ordered),
        len(ordered),
    )


def incoming_payload(incoming_id: str, alpha_name: str, phone: str, text: str, at_ms: int) -> str:
    """The body POSTed to an incoming URL (SPEC D7): `dt` is ISO 8601, UTC, in ms."""
    moment = datetime.fromtimestamp(at_ms / 1000, UTC)
    return msgspec.json.encode(
        {
            "idUuid": incoming_id,
            "alphaName": alpha_name,
            "phoneNumber": phone,
            "text": text,
            "dt": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
    ).decode()


@dataclass(frozen=True, slots=True)
class StoreFigures:
    """What the metrics read from the store when scraped (`cascade.metrics`): the due
    backlog, and ChatHub's chats by status with their first-response times counted into
    the buckets asked for (cumulative, as a Prometheus histogram has them)."""

    due: int  # tasks due now and not claimed
    oldest_due_at_ms: int | None  # the earliest due time among them
    chats_by_status: Mapping[int, int]  # ChatStatus value -> chats
    first_responses: int  # answered chats
    first_response_sum_ms: int
    first_response_le: Sequence[int]  # answered within each bound asked for, in order
