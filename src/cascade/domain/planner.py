"""Deciding a claimed message's next move, without I/O.

`plan` walks the message's steps (its explicit plan, else its route) from its current
step: it settles what the last attempt came to (a window that ran out, a failure
reported), skips steps that cannot reach the recipient at once or cannot carry their
content — recording why — and stops at the first step to send through, or at the
message's end (delivered, expired, undeliverable). `settle` turns a send's outcome
into the transition to commit. Both are pure: a new attempt's id comes from the caller
(`new_id`), and the time is an argument.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import msgspec

from cascade.domain import routes
from cascade.domain.content import Content, ContentKind, Step, cascade_content
from cascade.domain.delivery import (
    MAX_TRIES,
    VERIFY_ATTEMPTS,
    code_hash,
    is_final,
    remaining_ttl_s,
    retry_delay_ms,
    window_end_ms,
)
from cascade.domain.lifecycle import AttemptStatus, Reason
from cascade.domain.message import DEFAULT_TTL, MessageType, Route, Status
from cascade.domain.phone import numbering_plan_allows
from cascade.domain.records import (
    AttemptChange,
    AttemptRow,
    Claimed,
    Contact,
    MessageChange,
    NewAttempt,
    SenderRow,
    Transition,
)
from cascade.domain.sending import (
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

# a step passed over at once: (step, channel, status, reason, sender id, at)
Skip = tuple[int, str, str, str, str | None, int]


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    limits: Limits
    window_s: int
    revocable: bool = False


class SendJob(msgspec.Struct, frozen=True):
    claimed: Claimed
    step: int
    channel: str
    attempt_id: str
    outbound: Outbound
    # the intent, committed just before the request leaves (see Worker._send)
    intent: NewAttempt | AttemptChange
    # the plan's transition, to be committed with the intent (None: committed before)
    plan: Transition | None = None


class Revoke(msgspec.Struct, frozen=True):
    """Withdraw a message whose window ended undelivered (after the step is committed)."""

    channel: str
    sender: Sender
    phone: str
    provider_id: str


class Plan(msgspec.Struct, frozen=True):
    transition: Transition  # commit this first (skips, or the end), unless the send carries it
    send: SendJob | None  # then send this, if anything
    revoke: Revoke | None = None


def steps_of(c: Claimed) -> tuple[Step, ...]:
    """The message's steps: its explicit plan when it has one, else its route, each step
    with the message's content. A flash call with a fallback continues on the standard
    route with the fallback's text."""
    if c.plan:
        return c.plan
    message_type = MessageType(c.message_type)
    content = message_content(c)
    path = tuple(
        Step(channel, content)
        for channel in routes.steps(Route(c.route), message_type, c.channel_order)
    )
    if message_type is MessageType.FLASHCALL and c.fallback_type and c.fallback_text:
        fallback = Content(text=c.fallback_text)
        path += tuple(
            Step(channel, fallback, c.fallback_type)
            for channel in routes.steps(
                Route.STANDARD, MessageType(c.fallback_type), c.channel_order
            )
        )
    return path


def message_content(c: Claimed) -> Content:
    """What a Cascade API message shows at each step of its route."""
    return cascade_content(c.text, c.survey_options, c.image_url, c.button_text, c.button_url)


def plan(
    c: Claimed,
    now: int,
    channels: Mapping[str, ChannelInfo],
    senders: Mapping[tuple[str, str], list[SenderRow]],
    contacts: Mapping[tuple[str, str, str], Contact],
    static_senders: Mapping[str, Sender] | None = None,
    *,
    new_id: Callable[[], str],
) -> Plan:
    """The next move for a claimed message.

    `senders` (bots) is keyed by (account, channel); `static_senders` are the
    installation's provider accounts for channels without bots. A send leaves the task
    to the lease its claim took, in case this worker dies; its intent
    (the `sending` attempt) is not part of the plan's transition but of the job, to be
    committed only when the request is about to leave (the worker may commit the plan's
    transition with it). `new_id` makes the id of a new attempt (the engine passes
    `cascade.ids.new_id`); it is called only when the plan sends on a new attempt.
    """
    skips: list[Skip] = []
    changes: list[AttemptChange] = []
    step = c.step
    expires = c.expires_at_ms
    new_expiry: int | None = None
    revoke: Revoke | None = None
    last = c.last_attempt if c.last_attempt and c.last_attempt.step == c.step else None

    resend: AttemptRow | None = None

    def end(status: Status, channel: str | None, reason: str | None) -> Plan:
        if resend is not None and resend.status == AttemptStatus.SENDING:
            # it may have left, and it is not sent again: in doubt, whatever the end
            changes.append(
                AttemptChange(resend.id, AttemptStatus.UNKNOWN, Reason.IN_DOUBT, finished_at_ms=now)
            )
        message = MessageChange(
            c.message_id,
            status.value,
            step,
            channel,
            reason,
            None,
            expires_at_ms=new_expiry,
            skipped=with_skips(c.skipped, skips),
        )
        return Plan(Transition(message, tuple(changes)), None, revoke)

    if is_final(c.status):
        return end(Status(c.status), None, None)

    if last is not None:
        if last.status == AttemptStatus.SENDING:
            # A worker died between committing this send and its result. The request may
            # have reached the provider: never repeat it (a message is never sent twice)…
            info = channels.get(last.channel)
            if info is None or not info.limits.idempotent_sends:
                changes.append(
                    AttemptChange(
                        last.id, AttemptStatus.UNKNOWN, Reason.IN_DOUBT, finished_at_ms=now
                    )
                )
                return end(Status.UNDELIVERABLE, last.channel, Reason.IN_DOUBT)
            # … unless the provider refuses a repeat of its id: then it goes again as the
            # same attempt, and is settled by the provider's answer
            resend = last
        elif last.status == AttemptStatus.SENT:
            if last.window_ends_at_ms is not None and now < last.window_ends_at_ms:
                message = MessageChange(
                    c.message_id, Status.PROCESSING.value, step, None, None, last.window_ends_at_ms
                )
                return Plan(Transition(message), None)
            changes.append(
                AttemptChange(
                    last.id, AttemptStatus.TIMEOUT, Reason.NO_CONFIRMATION, finished_at_ms=now
                )
            )
            info = channels.get(last.channel)
            if info is not None and info.revocable and last.provider_message_id:
                sender = _static(static_senders, last.channel)
                revoke = Revoke(last.channel, sender, c.phone, last.provider_message_id)
            step += 1
        elif last.status in (AttemptStatus.RETRYING, AttemptStatus.PAUSED):
            resend = last
        elif last.status in (AttemptStatus.DELIVERED, AttemptStatus.READ):
            return end(Status(last.status), last.channel, None)
        else:
            step += 1
    elif c.status == Status.SCHEDULED and step == 0 and not numbering_plan_allows(c.phone):
        return end(Status.UNDELIVERABLE, None, Reason.INVALID_NUMBER)

    if c.cancel_requested:
        # cancelled while its step was in flight: that step's outcome is known now
        # (delivered ends above), and no further step is taken (cascade.domain.cancel)
        if resend is not None and resend.status != AttemptStatus.SENDING:
            changes.append(
                AttemptChange(resend.id, AttemptStatus.FAILED, Reason.CANCELLED, finished_at_ms=now)
            )
        return end(Status.CANCELLED, None, Reason.CANCELLED)

    path = steps_of(c)
    # a flash call's first step is its call
    called = c.last_attempt is not None and c.message_type == MessageType.FLASHCALL
    if c.fallback_type and called and step > 0 and c.last_attempt and c.last_attempt.step == 0:
        # the call failed or went unanswered: the fallback gets a TTL of its own
        new_expiry = expires = now + DEFAULT_TTL[MessageType(c.fallback_type)] * 1000
    while True:
        if now >= expires:
            return end(Status.EXPIRED, None, Reason.TTL_EXPIRED)
        if step >= len(path):
            return end(Status.UNDELIVERABLE, None, Reason.ROUTE_EXHAUSTED)
        planned = path[step]
        channel = planned.channel

        def skip(
            status: str, reason: str, sender_id: str | None = None, channel: str = channel
        ) -> None:
            nonlocal step
            skips.append((step, channel, status, reason, sender_id, now))
            step += 1

        info = channels.get(channel)
        if info is None or (
            c.plan and c.channel_order is not None and channel not in c.channel_order
        ):
            # not set up, or (a plan's step) switched off by the account
            skip(AttemptStatus.SKIPPED, Reason.NOT_CONFIGURED)
            continue
        sender_row: SenderRow | None = None
        no_contact = info.limits.bot_no_contact
        if no_contact is not None:
            sender_row = _pick_sender(c, channel, senders)
            if sender_row is None:
                skip(AttemptStatus.SKIPPED, Reason.NOT_CONFIGURED)
                continue
        content = planned.content.fit(info.limits.carries)
        if content is None:
            skip(AttemptStatus.SKIPPED, Reason.CONTENT_NOT_CARRIED)
            continue
        if ContentKind.TEXT in info.limits.carries:
            if not content.kinds():
                skip(AttemptStatus.SKIPPED, Reason.NO_TEXT)
                continue
            if content.text is not None and len(content.text) > info.limits.max_text:
                skip(AttemptStatus.SKIPPED, Reason.TEXT_TOO_LONG)
                continue

        intent: NewAttempt | AttemptChange
        if resend is not None:
            attempt_id, address = resend.id, resend.address or c.phone
            intent = AttemptChange(resend.id, AttemptStatus.SENDING, resend.reason)
        else:
            address = c.phone
            if sender_row is not None and no_contact is not None:
                contact = contacts.get((channel, sender_row.id, c.phone))
                if contact is None:
                    skip(AttemptStatus.UNREACHABLE, no_contact, sender_row.id)
                    continue
                if not contact.reachable:
                    skip(AttemptStatus.UNREACHABLE, Reason.BLOCKED, sender_row.id)
                    continue
                address = contact.address
            attempt_id = new_id()
            intent = NewAttempt(
                attempt_id,
                c.message_id,
                step,
                channel,
                AttemptStatus.SENDING,
                None,
                sender_row.id if sender_row else _static(static_senders, channel).id or None,
                address,
                now,
                None,
            )
        sender = (
            Sender(sender_row.id, sender_row.token, sender_row.webhook_secret)
            if sender_row
            else _static(static_senders, channel)
        )
        outbound = Outbound(
            attempt_id=attempt_id,
            message_id=c.message_id,
            phone=c.phone,
            address=address,
            content=content,
            from_name=c.from_name,
            message_type=planned.message_type or c.message_type,
            ttl_remaining_s=remaining_ttl_s(now, expires),
            sender=sender,
        )
        message = MessageChange(
            c.message_id,
            Status.PROCESSING.value,
            step,
            None,
            None,
            None,
            c.tries,
            expires_at_ms=new_expiry,
            store_task=False,  # the claim's lease holds the task
            skipped=with_skips(c.skipped, skips),
        )
        transition = Transition(message, tuple(changes))
        return Plan(
            transition,
            SendJob(
                c
                if c.expires_at_ms == expires
                else msgspec.structs.replace(c, expires_at_ms=expires),
                step,
                channel,
                attempt_id,
                outbound,
                intent,
                # a revoke follows the committed end of the step before: commit that first
                plan=transition if revoke is None else None,
            ),
            revoke,
        )


def with_skips(stored: str | None, skips: list[Skip]) -> str | None:
    """The message's skipped steps (see schema.messages.skipped) with `skips` added; None
    when there are none to add."""
    if not skips:
        return None
    added = msgspec.json.encode(skips).decode()
    if not stored or stored == "[]":
        return added
    return f"{stored[:-1]},{added[1:]}"


def _static(static_senders: Mapping[str, Sender] | None, channel: str) -> Sender:
    found = (static_senders or {}).get(channel)
    return found if found is not None else Sender(channel, "")


def group_senders(rows: Iterable[SenderRow]) -> dict[tuple[str, str], list[SenderRow]]:
    """Senders (bots) as `plan` takes them: by (account, channel), in the order given."""
    grouped: dict[tuple[str, str], list[SenderRow]] = {}
    for row in rows:
        grouped.setdefault((row.account_id, row.channel), []).append(row)
    return grouped


def _pick_sender(
    c: Claimed, channel: str, senders: Mapping[tuple[str, str], list[SenderRow]]
) -> SenderRow | None:
    """The bot the request's credentials named, else the account's first bot of the
    channel."""
    candidates = senders.get((c.account_id, channel), [])
    for row in candidates:
        if row.id in c.pinned_bots:
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
                    AttemptChange(
                        aid, AttemptStatus.DELIVERED, None, provider_id, finished_at_ms=now
                    ),
                ),
            )
        case Sent(provider_id, parts, part_ids, detail, secret):
            until = window_end_ms(now, window_s, c.expires_at_ms)
            verification = None
            if secret is not None:
                verification = (code_hash(c.message_id, secret), VERIFY_ATTEMPTS, c.expires_at_ms)
            # the message row already says so (the plan stored it): only the task moves
            message = MessageChange(
                c.message_id,
                Status.PROCESSING.value,
                job.step,
                None,
                None,
                until,
                store_message=False,
            )
            return Transition(
                message,
                attempt_changes=(
                    AttemptChange(
                        aid,
                        AttemptStatus.SENT,
                        None,
                        provider_id,
                        window_ends_at_ms=until,
                        parts=parts,
                        part_ids=part_ids,
                        detail=detail,
                    ),
                ),
                verification=verification,
            )
        case Unreachable(reason, blocked):
            return next_step(AttemptStatus.UNREACHABLE, reason, blocked)
        case Failed(reason) | Misconfigured(reason):
            return next_step(AttemptStatus.FAILED, reason)
        case Retry(reason):
            # a send whose intent could not be stored never left: it costs time (bounded
            # by the TTL), never a try, and never gives the step up
            never_left = reason == Reason.INTENT_NOT_STORED
            tries = c.tries + (not never_left)
            if tries >= MAX_TRIES and not never_left:
                return next_step(AttemptStatus.FAILED, Reason.RETRIES_EXHAUSTED)
            due = min(now + retry_delay_ms(tries), c.expires_at_ms)
            return Transition(
                MessageChange(
                    c.message_id, Status.PROCESSING.value, job.step, None, reason, due, tries
                ),
                attempt_changes=(AttemptChange(aid, AttemptStatus.RETRYING, reason),),
            )
        case InDoubt(reason):
            return Transition(
                MessageChange(
                    c.message_id,
                    Status.UNDELIVERABLE.value,
                    job.step,
                    job.channel,
                    Reason.IN_DOUBT,
                    None,
                ),
                attempt_changes=(
                    AttemptChange(aid, AttemptStatus.UNKNOWN, reason, finished_at_ms=now),
                ),
            )
        case Throttled(retry_after_s, reason):
            due = min(now + max(1, round(retry_after_s * 1000)), c.expires_at_ms)
            return Transition(
                MessageChange(
                    c.message_id, Status.PROCESSING.value, job.step, None, reason, due, c.tries
                ),
                attempt_changes=(AttemptChange(aid, AttemptStatus.PAUSED, reason),),
            )
    raise AssertionError(f"unknown outcome {outcome!r}")  # pragma: no cover


def revoke_given_up(job: SendJob, outcome: Outcome, info: ChannelInfo) -> Revoke | None:
    """The withdrawal a send needs when its step is given up although it may have reached
    the provider: a retried send on a channel whose provider keys it by the attempt's id
    (its answers lost, then its tries spent) could still be delivered after the next step.
    """
    if not (info.revocable and info.limits.idempotent_sends and isinstance(outcome, Retry)):
        return None
    if outcome.reason == Reason.INTENT_NOT_STORED or job.claimed.tries + 1 < MAX_TRIES:
        return None  # it never left, or it is tried again
    sender = job.outbound.sender
    return Revoke(job.channel, sender, job.outbound.phone, job.attempt_id)
