"""The records the message lifecycle reads and returns: a claimed message with its newest
attempt, the senders and contacts a step may go through, and the transition one engine
decision commits (the message's change, its attempts' changes, a new attempt).

The store keeps them and hands them out (`cascade.store.protocols`); the planner
(`cascade.domain.planner`) decides with them, without I/O.
"""

from __future__ import annotations

import msgspec

from cascade.domain.content import Step


class Lease(msgspec.Struct, frozen=True):
    """A claim's hold on the tasks it took: its owner and the end of its lease, as the
    claim wrote them. A write under a lease applies only to the messages whose task that
    same claim still holds (a fencing token): once another claim has taken a task, what
    the first one decided for it is refused, so two claims can never both send."""

    owner: str
    until_ms: int


class SenderRow(msgspec.Struct, frozen=True):
    id: str
    account_id: str
    channel: str  # a bot channel
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
    tries: int
    event_seq: int
    last_attempt: AttemptRow | None  # the newest attempt, if any
    pinned_bots: tuple[str, ...] = ()  # bots the request's credentials named, by id
    fallback_type: str | None = None  # flash call: what to send if the call fails
    fallback_text: str | None = None
    image_url: str | None = None  # promo extras
    button_text: str | None = None
    button_url: str | None = None
    channel_order: tuple[str, ...] | None = None  # the account's own order, if it set one
    skipped: str | None = None  # steps skipped so far (JSON, see schema.messages.skipped)
    # the message's explicit plan (the core API's primary step and its fallbacks), which
    # replaces its route; empty: the route's steps, each with the message's content
    plan: tuple[Step, ...] = ()
    # a cancel was requested while a step was in flight (`cascade.domain.cancel`): no
    # further step is taken once that step's outcome is known
    cancel_requested: bool = False


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
