"""A message's status as the core API shows it (SPEC D5).

`deliverystatus` is the provider's five values, mapped from Cascade's status and reason
(`cascade.domain.surfaces`); `reason` keeps Cascade's finer one and `seen` says a read
receipt came. Each step of the message's plan — the primary, then each fallback — shows
what it did: `not_used` (never taken), `processing`, `delivered`, `undeliverable`;
`extendedStatuses` names the same by channel (`viber`, `sms`, `rcs`, `flashcall`). A flash
call's status adds its `pattern` once the call went out.

`cost` is what the message's sends cost from the loaded price table (SPEC D9), a JSON
number in the table's `currency`: the sum over its attempts that went out (reached the
provider: `cascade.domain.prices.went_out` says exactly which), each at its channel's
price for the recipient, an SMS times its parts (and a Viber file with its text, which
goes out as two Viber messages, twice). A step never taken, passed over,
refused in the provider's answer, or found not to reach the person at all (not a Viber
user) costs nothing. Both are null when a send that went out
has no price, or when no table is loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec

from cascade.api.bat.validate import CHANNEL, FAMILY, BatType
from cascade.api.bat.wire import StatusOut, StepOut
from cascade.domain.content import Content, Step
from cascade.domain.delivery import call_pattern_in
from cascade.domain.message import Status
from cascade.domain.prices import PriceTable, amount_number, sent_cost
from cascade.domain.surfaces import (
    StepStatus,
    delivery_status,
    finer_reason,
    iso,
    step_status,
)
from cascade.store import AttemptView, MessageView


def status_body(
    view: MessageView, parts: Callable[[str, Content], int], prices: PriceTable
) -> StatusOut:
    plan: Sequence[Step] = view.plan
    by_step: dict[int, AttemptView] = {}
    for attempt in view.attempts:  # the newest attempt of each step tells what it did
        by_step[attempt.step] = attempt
    steps = [step_status(by_step[n].status if n in by_step else None) for n in range(len(plan))]
    extended: dict[str, str] = {}
    for step, status in zip(plan, steps, strict=True):
        family = FAMILY.get(step.channel, step.channel)
        if family not in extended or status is not StepStatus.NOT_USED:
            extended[family] = status.value
    # SMS parts (D4, D5); a Viber file sent with its text is two parts of its own, not these
    sms = CHANNEL[BatType.SMS]
    sent_parts = [a.parts for a in view.attempts if a.parts and a.channel == sms]
    if sent_parts:
        partscount = max(sent_parts)
    elif plan:
        partscount = parts(plan[0].channel, plan[0].content)
    else:
        partscount = 1
    cost = sent_cost(prices, view.phone, view.attempts)
    return StatusOut(
        messagelistId=view.list_id,
        messageId=view.id,
        customerMessageId=view.tracking_id if view.tracking_id != view.id else None,
        to=view.phone,
        type=(plan[0].wire_type or view.message_type) if plan else view.message_type,
        deliverystatus=delivery_status(view.status, view.reason).value,
        reason=finer_reason(view.status, view.reason),
        seen=view.status == Status.READ,
        partscount=partscount,
        cost=amount_number(cost.amount) if cost is not None else None,
        currency=cost.currency if cost is not None else None,
        channel=view.channel,
        fallbacks=[
            StepOut(type=step.wire_type or step.channel, status=status.value)
            for step, status in zip(plan[1:], steps[1:], strict=True)
        ],
        extendedStatuses=extended,
        createdAt=iso(view.created_at_ms) or "",
        updatedAt=iso(view.updated_at_ms) or "",
        scheduledAt=iso(view.scheduled_at_ms),
        expiresAt=iso(view.expires_at_ms) or "",
        pattern=_pattern(view.attempts),
    )


def _pattern(attempts: Sequence[AttemptView]) -> str | msgspec.UnsetType:
    """A flash call's `pattern` (D3), from the detail of the newest call that went out."""
    for attempt in reversed(attempts):
        if attempt.channel == CHANNEL[BatType.FLASHCALL] and attempt.detail:
            shown = call_pattern_in(attempt.detail)
            if shown is not None:
                return shown
    return msgspec.UNSET
