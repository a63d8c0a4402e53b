"""A dry run's route (SPEC A9, a Cascade extension): the steps a message would take if it
were sent now, decided by the engine's own planner (`cascade.domain.planner.plan`), with
each step's window, the latest instant it could start within the TTL, and its price.

The planner is asked as the engine would ask it: first for the message as accepted, then,
after each step it would send through, for the same message with that step ended without
a confirmation (the worst case: its window waited out whole). So every step it would pass
over says why (the planner's own reasons: NO_CHAT, NOT_SUBSCRIBED, BLOCKED,
NOT_CONFIGURED for a channel off or not set up, CONTENT_NOT_CARRIED, NO_TEXT,
TEXT_TOO_LONG), every step it would send through is `will_try`, and the instant the
planner is asked at is the latest the step could start; steps the TTL would not reach are
`skip` with TTL_EXPIRED. Whether an RCS phone is capable is asked of the provider only at
the send (nothing may leave in a dry run), so an RCS step is `will_try`.

Pure: the senders, contacts and prices come in as arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from enum import StrEnum

import msgspec
from msgspec.structs import replace

from cascade.domain.content import Content
from cascade.domain.delivery import MAX_TRIES, retry_delay_ms, window_end_ms
from cascade.domain.lifecycle import AttemptStatus, Reason
from cascade.domain.message import Draft, Status
from cascade.domain.planner import ChannelInfo, plan, steps_of
from cascade.domain.prices import PriceTable, cost
from cascade.domain.records import AttemptRow, Claimed, Contact, SenderRow
from cascade.domain.sending import Sender

_ATTEMPT = "dry-run"  # the id the planner gives the attempts it would make: none is made
# how long a step that needs no confirmation can take before the next: its retries' waits
RETRIES_MS = sum(retry_delay_ms(tries) for tries in range(1, MAX_TRIES))


class Decision(StrEnum):
    WILL_TRY = "will_try"
    SKIP = "skip"


class StepPreview(msgspec.Struct, frozen=True):
    """One step of the route: tried or skipped (and why); when tried, how long it waits
    for a confirmation (0: the provider taking it is delivery), the latest instant it
    could start, its parts and its price (None: no price for it in the table)."""

    step: int
    channel: str
    decision: Decision
    reason: str | None = None
    window_s: int | None = None
    latest_start_ms: int | None = None
    parts: int | None = None
    price: Decimal | None = None


class RoutePreview(msgspec.Struct, frozen=True):
    """A message's route now, and how it ends if no step it tries is confirmed (status
    and reason). `expected_cost` is what the first step it tries costs (the route stops at
    the first delivery), `max_cost` what every step it tries costs together; both None
    when a step it tries has no price, or when the table has no currency."""

    steps: tuple[StepPreview, ...]
    end_status: str
    end_reason: str | None
    currency: str | None = None
    expected_cost: Decimal | None = None
    max_cost: Decimal | None = None


def claimed_of(
    message_id: str,
    account_id: str,
    draft: Draft,
    pinned_bots: Sequence[str] = (),
    channel_order: Sequence[str] | None = None,
) -> Claimed:
    """A validated message as the engine would claim it when it is due, before any step."""
    media = draft.media or {}
    fallback = draft.fallback
    return Claimed(
        message_id=message_id,
        account_id=account_id,
        tracking_id=draft.tracking_id or message_id,
        route=draft.route.value,
        message_type=draft.message_type.value,
        phone=draft.phone,
        text=draft.text,
        from_name=draft.from_name,
        survey_options=draft.survey_options,
        status=Status.SCHEDULED.value,
        step=0,
        expires_at_ms=draft.expires_at_ms,
        tries=0,
        event_seq=0,
        last_attempt=None,
        pinned_bots=tuple(pinned_bots),
        fallback_type=fallback.message_type.value if fallback is not None else None,
        fallback_text=fallback.text if fallback is not None else None,
        image_url=media.get("imageUrl"),
        button_text=media.get("buttonText"),
        button_url=media.get("buttonUrl"),
        channel_order=tuple(channel_order) if channel_order is not None else None,
        plan=draft.plan,
    )


def preview_route(
    c: Claimed,
    start_ms: int,
    channels: Mapping[str, ChannelInfo],
    senders: Mapping[tuple[str, str], list[SenderRow]],
    contacts: Mapping[tuple[str, str, str], Contact],
    static_senders: Mapping[str, Sender],
    parts: Callable[[str, Content], int],
    prices: PriceTable,
) -> RoutePreview:
    """The route `c` would take from `start_ms` (when it is due), step by step (see the
    module)."""
    previews: list[StepPreview] = []
    claimed, now = c, start_ms
    while True:
        p = plan(claimed, now, channels, senders, contacts, static_senders, new_id=_attempt)
        skipped = p.transition.message.skipped
        for step, channel, _, reason, _, _ in msgspec.json.decode(skipped or "[]"):
            previews.append(StepPreview(step, channel, Decision.SKIP, reason))
        job = p.send
        if job is None:
            end = p.transition.message
            # the steps it would not reach: the TTL ran out, or the number cannot exist
            previews.extend(
                StepPreview(step, s.channel, Decision.SKIP, end.reason)
                for step, s in enumerate(steps_of(claimed))
                if step >= end.step and end.status != Status.DELIVERED
            )
            return _priced(tuple(previews), end.status, end.reason, prices)
        info = channels[job.channel]
        expires = job.claimed.expires_at_ms
        waits_ms = window_end_ms(now, info.window_s, expires) - now
        if not info.limits.confirms_delivery:
            waits_ms = 0
        content = job.outbound.content
        count = parts(job.channel, content)
        found = cost(prices, job.channel, c.phone, count)
        previews.append(
            StepPreview(
                job.step,
                job.channel,
                Decision.WILL_TRY,
                None,
                waits_ms // 1000,
                now,
                count,
                found.amount if found is not None else None,
            )
        )
        # the worst case: the step ends unconfirmed when its window (or its retries) ends
        ended = AttemptRow(
            _ATTEMPT,
            job.step,
            job.channel,
            AttemptStatus.TIMEOUT,
            Reason.NO_CONFIRMATION,
            None,
            None,
            None,
            now,
            None,
        )
        claimed = replace(
            job.claimed,
            status=Status.PROCESSING.value,
            step=job.step,
            last_attempt=ended,
            skipped=None,
        )
        now += waits_ms if waits_ms > 0 else RETRIES_MS


def _priced(
    steps: tuple[StepPreview, ...],
    end_status: str,
    end_reason: str | None,
    prices: PriceTable,
) -> RoutePreview:
    tried = [s for s in steps if s.decision is Decision.WILL_TRY]
    currency = prices.currency
    expected = max_cost = None
    if currency is not None and all(s.price is not None for s in tried):
        amounts = [s.price for s in tried if s.price is not None]
        expected = amounts[0] if amounts else Decimal(0)
        max_cost = sum(amounts, Decimal(0))
    return RoutePreview(steps, end_status, end_reason, currency, expected, max_cost)


def _attempt() -> str:
    return _ATTEMPT
