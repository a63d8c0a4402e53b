"""The store's records and errors: what goes in and comes out of it.

What each consumer may ask of the store is in `cascade.store.protocols`. The records the
engine claims and commits (a claimed message, its attempts, a transition) belong to the
message lifecycle: `cascade.domain.records`. Implementations translate driver errors into
`StoreError` and its subclasses, so no caller ever catches a SQLAlchemy or driver
exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import msgspec

from cascade.domain.content import Step as PlanStep
from cascade.domain.content import decode_plan
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
    BOT = "bot"  # a bot's token: its credential names the bot and the bot's channel


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
    channel: str | None = None  # the bot's channel


@dataclass(frozen=True, slots=True)
class NewMessage:
    id: str
    draft: Draft
    pinned_bots: tuple[str, ...] = ()  # bots the request's credentials named


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
    step: int = 0  # which step of the message's route or plan it was


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
    plan: tuple[PlanStep, ...] = ()  # the message's explicit plan, if it has one


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
        plan=decode_plan(row.plan) if row.plan else (),
    )
