"""Deciding a claimed message's next move, without I/O.

`plan` walks the route from the message's current step: it settles what the last attempt
came to (a window that ran out, a failure reported), skips steps that cannot reach the
recipient at once — recording why — and stops at the first step to send through, or at
the message's end (delivered, expired, undeliverable). `settle` turns a send's outcome
into the transition to commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from cascade.channels.base import (
    Delivered,
    Failed,
    InDoubt,
    Limits,
    Misconfigured,
    Outbound,
    Outcome,
    Retry,
    Sender,
    Sent,
    Throttled,
    Unreachable,
)
from cascade.domain import routes
from cascade.domain.delivery import (
    MAX_TRIES,
    is_final,
    remaining_ttl_s,
    retry_delay_ms,
    window_end_ms,
)
from cascade.domain.message import MessageType, Route, Status
from cascade.domain.phone import numbering_plan_allows
from cascade.store.base import (
    AttemptChange,
    AttemptRow,
    Claimed,
    Contact,
    MessageChange,
    NewAttempt,
    SenderRow,
    Transition,
)

# Channels whose recipients are users of a bot, known only through contacts.
BOT_CHANNELS = {routes.TELEGRAM: "NO_CHAT", routes.VIBER_BOT: "NOT_SUBSCRIBED"}


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    limits: Limits
    window_s: int


@dataclass(frozen=True, slots=True)
class SendJob:
    claimed: Claimed
    step: int
    channel: str
    attempt_id: str
    outbound: Outbound


@dataclass(frozen=True, slots=True)
class Plan:
    transition: Transition  # commit this first (intent, skips, or the end)
    send: SendJob | None  # then send this, if anything


def plan(
    c: Claimed,
    now: int,
    channels: Mapping[str, ChannelInfo],
    senders: Mapping[tuple[str, str], list[SenderRow]],
    contacts: Mapping[tuple[str, str, str], Contact],
    hold_until: int,
) -> Plan:
    """The next move for a claimed message. `senders` is keyed by (account, channel);
    a send keeps the task until `hold_until` (the lease), in case this worker dies."""
    new: list[NewAttempt] = []
    changes: list[AttemptChange] = []
    step = c.step
    last = c.last_attempt if c.last_attempt and c.last_attempt.step == c.step else None

    def end(status: Status, channel: str | None, reason: str | None) -> Plan:
        message = MessageChange(c.message_id, status.value, step, channel, reason, None)
        return Plan(Transition(message, tuple(new), tuple(changes)), None)

    if is_final(c.status):
        return end(Status(c.status), None, None)

    resend: AttemptRow | None = None
    if last is not None:
        if last.status == "sending":
            # A worker died between committing this send and its result. The request may
            # have reached the provider: never repeat it (a message is never sent twice).
            changes.append(AttemptChange(last.id, "unknown", "IN_DOUBT", finished_at_ms=now))
            return end(Status.UNDELIVERABLE, last.channel, "IN_DOUBT")
        if last.status == "sent":
            if last.window_ends_at_ms is not None and now < last.window_ends_at_ms:
                message = MessageChange(
                    c.message_id, Status.PROCESSING.value, step, None, None, last.window_ends_at_ms
                )
                return Plan(Transition(message), None)
            changes.append(AttemptChange(last.id, "timeout", "NO_CONFIRMATION", finished_at_ms=now))
            step += 1
        elif last.status in ("retrying", "paused"):
            resend = last
        elif last.status in ("delivered", "read"):
            return end(Status(last.status), last.channel, None)
        else:
            step += 1
    elif c.status == Status.SCHEDULED and step == 0 and not numbering_plan_allows(c.phone):
        return end(Status.UNDELIVERABLE, None, "INVALID_NUMBER")

    message_type = MessageType(c.message_type)
    path = routes.steps(Route(c.route), message_type)
    while True:
        if now >= c.expires_at_ms:
            return end(Status.EXPIRED, None, "TTL_EXPIRED")
        if step >= len(path):
            return end(Status.UNDELIVERABLE, None, "ROUTE_EXHAUSTED")
        channel = path[step]

        def skip(
            status: str, reason: str, sender_id: str | None = None, channel: str = channel
        ) -> None:
            nonlocal step
            new.append(
                NewAttempt(
                    str(uuid.uuid4()),
                    c.message_id,
                    step,
                    channel,
                    status,
                    reason,
                    sender_id,
                    None,
                    now,
                    now,
                )
            )
            step += 1

        info = channels.get(channel)
        if info is None:
            skip("skipped", "NOT_CONFIGURED")
            continue
        sender_row: SenderRow | None = None
        if channel in BOT_CHANNELS:
            sender_row = _pick_sender(c, channel, senders)
            if sender_row is None:
                skip("skipped", "NOT_CONFIGURED")
                continue
        if c.text is None or len(c.text) > info.limits.max_text:
            skip("skipped", "TEXT_TOO_LONG" if c.text else "NO_TEXT")
            continue
        if message_type is MessageType.VIBER_SURVEY and not info.limits.carries_survey:
            skip("skipped", "UNSUPPORTED_CONTENT")
            continue

        if resend is not None:
            attempt_id, address = resend.id, resend.address or c.phone
            changes.append(AttemptChange(resend.id, "sending", resend.reason))
        else:
            address = c.phone
            if sender_row is not None:
                contact = contacts.get((channel, sender_row.id, c.phone))
                if contact is None:
                    skip("unreachable", BOT_CHANNELS[channel], sender_row.id)
                    continue
                if not contact.reachable:
                    skip("unreachable", "BLOCKED", sender_row.id)
                    continue
                address = contact.address
            attempt_id = str(uuid.uuid4())
            new.append(
                NewAttempt(
                    attempt_id,
                    c.message_id,
                    step,
                    channel,
                    "sending",
                    None,
                    sender_row.id if sender_row else None,
                    address,
                    now,
                    None,
                )
            )
        sender = (
            Sender(sender_row.id, sender_row.token, sender_row.webhook_secret)
            if sender_row
            else Sender("", "")
        )
        outbound = Outbound(
            attempt_id=attempt_id,
            message_id=c.message_id,
            phone=c.phone,
            address=address,
            text=c.text,
            from_name=c.from_name,
            message_type=c.message_type,
            survey_options=c.survey_options,
            ttl_remaining_s=remaining_ttl_s(now, c.expires_at_ms),
            sender=sender,
        )
        message = MessageChange(
            c.message_id, Status.PROCESSING.value, step, None, None, hold_until, c.tries
        )
        return Plan(
            Transition(message, tuple(new), tuple(changes)),
            SendJob(c, step, channel, attempt_id, outbound),
        )


def _pick_sender(
    c: Claimed, channel: str, senders: Mapping[tuple[str, str], list[SenderRow]]
) -> SenderRow | None:
    """The bot named by the request's header, else the account's first bot of the kind."""
    candidates = senders.get((c.account_id, channel), [])
    pinned = c.telegram_bot_id if channel == routes.TELEGRAM else c.viber_bot_id
    if pinned:
        for row in candidates:
            if row.id == pinned:
                return row
    return candidates[0] if candidates else None


def settle(job: SendJob, outcome: Outcome, now: int, window_s: int) -> Transition:
    """The transition a send's outcome leads to."""
    c = job.claimed
    aid = job.attempt_id

    def next_step(status: str, reason: str, blocked: bool = False) -> Transition:
        contact = None
        if blocked and job.outbound.sender.id:
            contact = (job.channel, job.outbound.sender.id, job.outbound.address)
        return Transition(
            MessageChange(c.message_id, Status.PROCESSING.value, job.step + 1, None, reason, now),
            attempt_changes=(AttemptChange(aid, status, reason, finished_at_ms=now),),
            contact_blocked=contact,
        )

    match outcome:
        case Delivered(provider_id):
            return Transition(
                MessageChange(
                    c.message_id, Status.DELIVERED.value, job.step, job.channel, None, None
                ),
                attempt_changes=(
                    AttemptChange(aid, "delivered", None, provider_id, finished_at_ms=now),
                ),
            )
        case Sent(provider_id):
            until = window_end_ms(now, window_s, c.expires_at_ms)
            return Transition(
                MessageChange(c.message_id, Status.PROCESSING.value, job.step, None, None, until),
                attempt_changes=(
                    AttemptChange(aid, "sent", None, provider_id, window_ends_at_ms=until),
                ),
            )
        case Unreachable(reason, blocked):
            return next_step("unreachable", reason, blocked)
        case Failed(reason) | Misconfigured(reason):
            return next_step("failed", reason)
        case Retry(reason):
            tries = c.tries + 1
            if tries >= MAX_TRIES:
                return next_step("failed", "RETRIES_EXHAUSTED")
            due = min(now + retry_delay_ms(tries), c.expires_at_ms)
            return Transition(
                MessageChange(
                    c.message_id, Status.PROCESSING.value, job.step, None, reason, due, tries
                ),
                attempt_changes=(AttemptChange(aid, "retrying", reason),),
            )
        case InDoubt(reason):
            return Transition(
                MessageChange(
                    c.message_id,
                    Status.UNDELIVERABLE.value,
                    job.step,
                    job.channel,
                    "IN_DOUBT",
                    None,
                ),
                attempt_changes=(AttemptChange(aid, "unknown", reason, finished_at_ms=now),),
            )
        case Throttled(retry_after_s, reason):
            due = min(now + max(1, round(retry_after_s * 1000)), c.expires_at_ms)
            return Transition(
                MessageChange(
                    c.message_id, Status.PROCESSING.value, job.step, None, reason, due, c.tries
                ),
                attempt_changes=(AttemptChange(aid, "paused", reason),),
            )
    raise AssertionError(f"unknown outcome {outcome!r}")  # pragma: no cover
