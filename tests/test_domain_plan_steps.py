"""A message with an explicit plan (`Claimed.plan`: the core API's primary step and its
fallbacks, each with its own content) through the planner, as tables and a property.

- the plan replaces the route: its steps are tried in order, each at most once, each with
  its own content shaped for its channel;
- a delivered step ends the plan (the fallbacks are not used); an undeliverable or
  unreachable step, or one whose window ended, moves to the next;
- a step whose channel is off, or that cannot carry its content, is skipped with a reason;
- the message's TTL ends the plan.
"""

from __future__ import annotations

from typing import NamedTuple

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cascade.domain import routes
from cascade.domain.content import (
    Action,
    ActionKind,
    Button,
    Content,
    ContentKind,
    Media,
    MediaKind,
    Step,
    Template,
)
from cascade.domain.lifecycle import AttemptStatus, Reason
from cascade.domain.message import MessageType, Route, Status
from cascade.domain.planner import ChannelInfo, plan, settle
from cascade.domain.records import AttemptRow, Claimed
from cascade.domain.sending import Delivered, Failed, Limits, Outcome, Sent, Unreachable
from tests import test_domain_transitions as transitions
from tests.test_domain_planner import BOTS, CONTACTS, NOW, Ids

K = ContentKind
EXPIRES = transitions.EXPIRES
WINDOW_S = 60


def info(*carries: ContentKind, max_text: int = 4096) -> ChannelInfo:
    limits = Limits(max_text, None, None, True, WINDOW_S, carries=frozenset(carries))
    return ChannelInfo(limits, WINDOW_S)


CHANNELS = {
    routes.TELEGRAM: info(K.TEXT, K.SURVEY),
    routes.VIBER_BOT: info(K.TEXT, K.SURVEY),
    routes.VIBER_BUSINESS: info(K.TEXT, K.IMAGE, K.BUTTONS, K.TEMPLATE, K.SURVEY),
    routes.RCS: info(K.TEXT, K.IMAGE, K.BUTTONS, K.SUGGESTIONS, K.SURVEY, max_text=3072),
    routes.SMS: info(K.TEXT, max_text=1530),
    routes.FLASHCALL: info(K.CALLER_ID),
}

SHOP = Button("Shop", Action(ActionKind.OPEN_URL, url="https://shop.test/s"))
PROMO = Content(
    text="Spring sale", media=Media(MediaKind.IMAGE, "https://img.test/a.png"), buttons=(SHOP,)
)
CARD = Content(text="Sale on cards", suggestions=(Button("Yes", Action(ActionKind.REPLY)),))
SMS_TEXT = Content(text="Sale: https://shop.test/s")
PLAN = (
    Step(routes.VIBER_BUSINESS, PROMO, "promo", "viber_promo"),
    Step(routes.RCS, CARD, wire_type="rcs"),
    Step(routes.SMS, SMS_TEXT, wire_type="sms"),
)


def claim(
    steps: tuple[Step, ...] = PLAN,
    step: int = 0,
    last: AttemptStatus | None = None,
    *,
    window_open: bool = False,
    order: tuple[str, ...] | None = None,
) -> Claimed:
    """`test_domain_transitions`' claim, on `steps` at `step` (its last attempt there)."""
    base = transitions.claim(Status.PROCESSING, last, window_open)
    attempt = base.last_attempt
    if attempt is not None:
        channel = steps[step].channel
        attempt = msgspec.structs.replace(attempt, step=step, channel=channel, sender_id=None)
    return msgspec.structs.replace(
        base,
        # the route and type say otherwise: the plan wins
        route=Route.TG_VIBER.value,
        message_type=MessageType.TRANSACTION.value,
        text="the route's text, never sent",
        status=(Status.SCHEDULED if last is None and step == 0 else Status.PROCESSING).value,
        step=step,
        tries=0,
        last_attempt=attempt,
        channel_order=order,
        plan=steps,
    )


class Move(NamedTuple):
    """What a claim leads to: the step sent and what it shows (None: nothing sent), the
    message's status and reason, and the steps skipped on the way, with their reasons."""

    sends: int | None
    content: Content | None
    status: Status
    reason: str | None = None
    skipped: tuple[tuple[int, str, str], ...] = ()  # (step, channel, reason)


NOT_CONFIGURED = Reason.NOT_CONFIGURED.value
OTP = Content(template=Template("tpl-1", "en", {"pin": "1234"}))
SURVEY = Content(text="How was it?", survey=("Good", "Bad"))

CASES: list[tuple[str, Claimed, dict[str, ChannelInfo], int, Move]] = [
    (
        "the primary step goes first, with its own content and label",
        claim(),
        CHANNELS,
        NOW,
        Move(0, PROMO, Status.PROCESSING),
    ),
    (
        "primary delivered: the fallbacks are not used",
        claim(step=0, last=AttemptStatus.DELIVERED),
        CHANNELS,
        NOW,
        Move(None, None, Status.DELIVERED),
    ),
    (
        "primary read: the same",
        claim(step=0, last=AttemptStatus.READ),
        CHANNELS,
        NOW,
        Move(None, None, Status.READ),
    ),
    (
        "primary waits for its report while its window lasts",
        claim(step=0, last=AttemptStatus.SENT, window_open=True),
        CHANNELS,
        NOW,
        Move(None, None, Status.PROCESSING),
    ),
    (
        "primary undeliverable: the next step, with its own content",
        claim(step=1, last=None),
        CHANNELS,
        NOW,
        Move(1, CARD, Status.PROCESSING),
    ),
    (
        "primary's window ended: the next step",
        claim(step=0, last=AttemptStatus.SENT),
        CHANNELS,
        NOW,
        Move(1, CARD, Status.PROCESSING),
    ),
    (
        "a fallback's channel not configured: skipped with the reason, the next one goes",
        claim(step=1),
        {name: i for name, i in CHANNELS.items() if name != routes.RCS},
        NOW,
        Move(2, SMS_TEXT, Status.PROCESSING, skipped=((1, routes.RCS, NOT_CONFIGURED),)),
    ),
    (
        "a fallback's channel switched off by the account: the same",
        claim(step=1, order=(routes.VIBER_BUSINESS, routes.SMS)),
        CHANNELS,
        NOW,
        Move(2, SMS_TEXT, Status.PROCESSING, skipped=((1, routes.RCS, NOT_CONFIGURED),)),
    ),
    (
        "a step whose content nothing can stand for: skipped as not carried",
        claim((Step(routes.SMS, OTP), Step(routes.VIBER_BUSINESS, OTP))),
        CHANNELS,
        NOW,
        Move(
            1,
            OTP,
            Status.PROCESSING,
            skipped=((0, routes.SMS, Reason.CONTENT_NOT_CARRIED.value),),
        ),
    ),
    (
        "a step's content the channel carries in part: folded into its text",
        claim((Step(routes.SMS, SURVEY),)),
        CHANNELS,
        NOW,
        Move(0, Content(text="How was it?\n1. Good\n2. Bad"), Status.PROCESSING),
    ),
    (
        "a step's text too long for its channel: skipped",
        claim((Step(routes.SMS, Content(text="x" * 2000)), Step(routes.RCS, CARD))),
        CHANNELS,
        NOW,
        Move(1, CARD, Status.PROCESSING, skipped=((0, routes.SMS, Reason.TEXT_TOO_LONG.value),)),
    ),
    (
        "a bot channel's step reaches the person through the bot's contact",
        claim((Step(routes.TELEGRAM, SMS_TEXT), Step(routes.SMS, SMS_TEXT))),
        {**CHANNELS, routes.TELEGRAM: info(K.TEXT)},
        NOW,
        Move(0, SMS_TEXT, Status.PROCESSING),
    ),
    (
        "the last step undeliverable: the plan is exhausted",
        claim(step=3),
        CHANNELS,
        NOW,
        Move(None, None, Status.UNDELIVERABLE, Reason.ROUTE_EXHAUSTED.value),
    ),
    (
        "the message's TTL ends the plan, whatever steps remain",
        claim(step=1),
        CHANNELS,
        EXPIRES,
        Move(None, None, Status.EXPIRED, Reason.TTL_EXPIRED.value),
    ),
    (
        "a flash call step carries its caller id and no text",
        claim(
            (
                Step(routes.FLASHCALL, Content(text="never", caller_id="+380441234567")),
                Step(routes.SMS, SMS_TEXT),
            )
        ),
        CHANNELS,
        NOW,
        Move(0, Content(caller_id="+380441234567"), Status.PROCESSING),
    ),
]


@pytest.mark.parametrize(
    ("label", "c", "channels", "now", "expected"), CASES, ids=[case[0] for case in CASES]
)
def test_a_plan_step_by_step(
    label: str, c: Claimed, channels: dict[str, ChannelInfo], now: int, expected: Move
) -> None:
    decided = plan(c, now, channels, BOTS, CONTACTS, new_id=Ids())
    message = decided.transition.message
    send = decided.send
    assert (send.step if send else None) == expected.sends
    assert message.status == expected.status
    assert message.reason == expected.reason
    skipped = msgspec.json.decode(message.skipped or "[]")
    assert tuple((s[0], s[1], s[3]) for s in skipped) == expected.skipped
    if send is None:
        return
    planned = c.plan[send.step]
    assert send.channel == planned.channel
    assert send.outbound.content == expected.content
    assert send.outbound.message_type == (planned.message_type or c.message_type)
    assert message.step == send.step


def test_without_a_plan_the_route_is_followed() -> None:
    c = msgspec.structs.replace(claim(), plan=(), text="Hi")
    decided = plan(c, NOW, CHANNELS, BOTS, CONTACTS, new_id=Ids())
    assert decided.send is not None
    assert decided.send.channel == routes.steps(Route.TG_VIBER, MessageType.TRANSACTION)[0]
    assert decided.send.outbound.content == Content(text="Hi")


# --- property: in order, each at most once ---------------------------------------------

_step = st.builds(
    Step,
    st.sampled_from(routes.ALL_CHANNELS),
    st.sampled_from([PROMO, CARD, SMS_TEXT, SURVEY, OTP, Content(text="x" * 2000)]),
)
_outcome: st.SearchStrategy[Outcome] = st.sampled_from(
    [Delivered("p"), Sent("p"), Unreachable("NO_SUCH_USER"), Failed("REJECTED")]
)


@given(
    st.lists(_step, min_size=1, max_size=6).map(tuple),
    st.dictionaries(st.sampled_from(routes.ALL_CHANNELS), st.just(0)).map(
        lambda off: {name: i for name, i in CHANNELS.items() if name not in off}
    ),
    st.lists(_outcome, min_size=7, max_size=7),
)
def test_a_plans_steps_are_tried_in_order_each_at_most_once(
    steps: tuple[Step, ...], channels: dict[str, ChannelInfo], outcomes: list[Outcome]
) -> None:
    c, now = claim(steps), NOW
    sent: list[int] = []
    ended = None
    for outcome in outcomes:
        decided = plan(c, now, channels, BOTS, CONTACTS, new_id=Ids())
        job = decided.send
        if job is None:
            ended = decided.transition.message.status
            break
        sent.append(job.step)
        carries = channels[job.channel].limits.carries
        assert job.channel == steps[job.step].channel
        assert job.outbound.content == steps[job.step].content.fit(carries)
        settled = settle(job, outcome, now, WINDOW_S)
        [change] = settled.attempt_changes
        last = AttemptRow(
            job.attempt_id,
            job.step,
            job.channel,
            change.status,
            change.reason,
            None,
            job.outbound.address,
            change.provider_message_id,
            now,
            change.window_ends_at_ms,
        )
        c = msgspec.structs.replace(
            c, status=settled.message.status, step=settled.message.step, last_attempt=last
        )
        # look again once the step's window (if any) has ended
        now = max(now, settled.message.due_at_ms or now) + 1
    assert sent == sorted(set(sent))  # in order, none twice
    assert all(step < len(steps) for step in sent)
    if ended is not None and sent and isinstance(outcomes[len(sent) - 1], Delivered):
        assert ended == Status.DELIVERED  # a delivered step ends the plan
