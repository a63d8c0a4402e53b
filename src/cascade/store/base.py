"""The store's records and errors: what goes in and comes out of it.

What each consumer may ask of the store is in `cascade.store.protocols`. Implementations
translate driver errors into `StoreError` and its subclasses, so no caller ever catches a
SQLAlchemy or driver exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import msgspec

from cascade.domain.message import Draft

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


class CredentialKind(StrEnum):
    API_KEY = "key"
    TELEGRAM = "telegram"
    VIBER = "viber"


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


@dataclass(frozen=True, slots=True)
class Credential:
    account_id: str
    kind: CredentialKind
    bot_id: str | None  # set for bot tokens


@dataclass(frozen=True, slots=True)
class NewMessage:
    id: str
    draft: Draft
    telegram_bot_id: str | None = None
    viber_bot_id: str | None = None


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


# --- the delivery engine's side -----------------------------------------------------------


class SenderRow(msgspec.Struct, frozen=True):
    id: str
    account_id: str
    channel: str  # "telegram" or "viber_bot"
    token: str
    webhook_secret: str


class AttemptRow(msgspec.Struct, frozen=True):
    id: str
    step: int
    channel: str
    status: str
    reason: str | None
    sender_id: str | None
    address: str | None
    provider_message_id: str | None
    started_at_ms: int
    window_ends_at_ms: int | None


class Claimed(msgspec.Struct, frozen=True):
    """A message whose task a worker now holds, with what it needs to take the next step."""

    message_id: str
    account_id: str
    tracking_id: str
    route: str
    message_type: str
    phone: str
    text: str | None
    from_name: str
    survey_options: tuple[str, ...]
    status: str
    step: int
    expires_at_ms: int
    telegram_bot_id: str | None
    viber_bot_id: str | None
    tries: int
    event_seq: int
    last_attempt: AttemptRow | None  # the newest attempt, if any
    fallback_type: str | None = None  # flashcall: what to send if the call fails
    fallback_text: str | None = None
    image_url: str | None = None  # promo extras
    button_text: str | None = None
    button_url: str | None = None
    channel_order: tuple[str, ...] | None = None  # the account's own order, if it set one
    skipped: str | None = None  # steps skipped so far (JSON, see schema.messages.skipped)


class NewAttempt(msgspec.Struct, frozen=True):
    id: str
    message_id: str
    step: int
    channel: str
    status: str
    reason: str | None
    sender_id: str | None
    address: str | None
    started_at_ms: int
    finished_at_ms: int | None


class AttemptChange(msgspec.Struct, frozen=True):
    id: str
    status: str
    reason: str | None
    provider_message_id: str | None = None
    finished_at_ms: int | None = None
    window_ends_at_ms: int | None = None
    parts: int | None = None
    part_ids: tuple[str, ...] = ()
    detail: str | None = None


class MessageChange(msgspec.Struct, frozen=True):
    """The message's new state; `due_at_ms` None means no more work (the task goes).

    `store_message` False leaves the message row as it is (a result that changes only
    when to look next); `store_task` False leaves the task as it is, whatever `due_at_ms`
    says (a send, whose task the claim's lease holds).
    """

    message_id: str
    status: str
    step: int
    channel: str | None
    reason: str | None
    due_at_ms: int | None
    tries: int = 0
    expires_at_ms: int | None = None  # a new expiry (a flash call's fallback starts afresh)
    store_message: bool = True
    store_task: bool = True
    skipped: str | None = None  # the message's skipped steps, now (JSON); None: as they are


class Transition(msgspec.Struct, frozen=True):
    """Everything one engine decision changes, committed together."""

    message: MessageChange
    attempt_changes: tuple[AttemptChange, ...] = ()
    contact_blocked: tuple[str, str, str] | None = None  # (channel, sender_id, address)
    verification: tuple[str, int, int] | None = None  # (code hash, attempts, expires at)


class Contact(msgspec.Struct, frozen=True):
    address: str
    reachable: bool
