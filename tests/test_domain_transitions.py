"""Every (status, event) pair of the message/attempt state machine, as tables.

`plan`'s event is a claim at a time: the table runs over every message status by what the
last attempt on the current step came to (none, or each attempt status; a `sent` one with
its window still open or ended), before and after the message's expiry. `settle`'s event
is a send's outcome: the table runs over every outcome. What a delivery report does to
every attempt status is `test_domain_lifecycle`'s table; the invariants over any state are
`test_domain_planner`'s properties.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import msgspec
import pytest

from cascade.domain import routes
from cascade.domain.content import Content
from cascade.domain.delivery import FINAL, MAX_TRIES
from cascade.domain.lifecycle import AttemptStatus, Reason
from cascade.domain.message import MessageType, Route, Status
from cascade.domain.planner import ChannelInfo, SendJob, plan, settle
from cascade.domain.records import (
    AttemptChange,
    AttemptRow,
    Claimed,
    NewAttempt,
)
from cascade.domain.sending import (
    Delivered,
    Failed,
    InDoubt,
    Misconfigured,
    Outbound,
    Outcome,
    Retry,
    Sender,
    Sent,
    Throttled,
    Unreachable,
)
from tests.test_domain_planner import ACCOUNT, BOTS, CONTACTS, LIMITS, NOW, PHONE

EXPIRES = NOW + 3_600_000
STEP = 1  # the claim is on the standard route's second step (viber_bot)
CHANNELS = {channel: ChannelInfo(LIMITS, 60) for channel in routes.ALL_CHANNELS}


def claim(status: Status, last: AttemptStatus | None, window_open: bool = False) -> Claimed:
    attempt = None
    if last is not None:
        attempt = AttemptRow(
            id="last",
            step=STEP,
            channel=routes.VIBER_BOT,
            status=last.value,
            reason=None,
            sender_id="viber_bot-bot",
            address="viber_bot-user",
            provider_message_id="p-1",
            started_at_ms=NOW - 120_000,
            window_ends_at_ms=NOW + (30_000 if window_open else -1),
        )
    return Claimed(
        message_id="m-1",
        account_id=ACCOUNT,
        tracking_id="t-1",
        route=Route.STANDARD.value,
        message_type=MessageType.TRANSACTION.value,
        phone=PHONE,
        text="Hello",
        from_name="Cascade",
        survey_options=(),
        status=status.value,
        step=STEP,
        expires_at_ms=EXPIRES,
        tries=1,
        event_seq=0,
        last_attempt=attempt,
    )


class Move(NamedTuple):
    """What a claim leads to: the step sent (None: nothing sent), whether it goes as the
    last attempt again, the message's status and reason, the last attempt's new status."""

    sends: int | None
    same_attempt: bool
    status: Status
    reason: str | None
    last_becomes: AttemptStatus | None


NEXT = Move(STEP + 1, False, Status.PROCESSING, None, None)
AGAIN = Move(STEP, True, Status.PROCESSING, None, None)
FIRST = Move(STEP, False, Status.PROCESSING, None, None)
EXPIRED = Move(None, False, Status.EXPIRED, Reason.TTL_EXPIRED, None)

# the last attempt on the step (or none) -> (the move before expiry, the move after it)
ACTIVE: dict[tuple[AttemptStatus | None, bool], tuple[Move, Move]] = {
    (None, False): (FIRST, EXPIRED),
    # it may have left: never sent again; the message ends in doubt, expired or not
    (AttemptStatus.SENDING, False): (
        in_doubt := Move(None, False, Status.UNDELIVERABLE, Reason.IN_DOUBT, AttemptStatus.UNKNOWN),
        in_doubt,
    ),
    # did not leave: the same attempt again, until the message expires
    (AttemptStatus.RETRYING, False): (AGAIN, EXPIRED),
    (AttemptStatus.PAUSED, False): (AGAIN, EXPIRED),
    # its report is awaited while the window lasts; the window never outlasts the TTL, so
    # after the expiry it has ended too
    (AttemptStatus.SENT, True): (
        Move(None, False, Status.PROCESSING, None, None),
        EXPIRED._replace(last_becomes=AttemptStatus.TIMEOUT),
    ),
    # the window ended without a report: the next step
    (AttemptStatus.SENT, False): (
        NEXT._replace(last_becomes=AttemptStatus.TIMEOUT),
        EXPIRED._replace(last_becomes=AttemptStatus.TIMEOUT),
    ),
    (AttemptStatus.DELIVERED, False): (
        delivered := Move(None, False, Status.DELIVERED, None, None),
        delivered,
    ),
    (AttemptStatus.READ, False): (read := Move(None, False, Status.READ, None, None), read),
    (AttemptStatus.UNREACHABLE, False): (NEXT, EXPIRED),
    (AttemptStatus.FAILED, False): (NEXT, EXPIRED),
    (AttemptStatus.SKIPPED, False): (NEXT, EXPIRED),
    (AttemptStatus.TIMEOUT, False): (NEXT, EXPIRED),
    (AttemptStatus.UNKNOWN, False): (NEXT, EXPIRED),
}


def test_the_table_names_every_attempt_status() -> None:
    assert {status for status, _ in ACTIVE} == {None, *AttemptStatus}


def pairs() -> list[tuple[Status, AttemptStatus | None, bool, bool]]:
    return [
        (status, last, window_open, expired)
        for status in Status
        for last, window_open in ACTIVE
        for expired in (False, True)
    ]


@pytest.mark.parametrize(("status", "last", "window_open", "expired"), pairs())
def test_plan_over_every_status_and_last_attempt(
    status: Status, last: AttemptStatus | None, window_open: bool, expired: bool
) -> None:
    c = claim(status, last, window_open)
    now = EXPIRES + 1 if expired else NOW
    made: list[str] = []

    def new_id() -> str:
        made.append(f"new-{len(made)}")
        return made[-1]

    decided = plan(c, now, CHANNELS, BOTS, CONTACTS, new_id=new_id)
    if status in FINAL:
        # a final message stays as it is: nothing sent, nothing changed
        expected = Move(None, False, status, None, None)
    else:
        expected = ACTIVE[(last, window_open)][expired]
    send = decided.send
    message = decided.transition.message
    assert (send.step if send else None) == expected.sends
    assert message.status == expected.status
    assert message.reason == expected.reason
    changed = {a.id: a.status for a in decided.transition.attempt_changes}
    if expected.last_becomes is None:
        assert changed == {}
    else:
        assert changed == {"last": expected.last_becomes}
    if send is None:
        assert made == []
        return
    assert message.step == send.step
    assert send.channel == routes.steps(Route.STANDARD, MessageType.TRANSACTION)[send.step]
    if expected.same_attempt:
        assert made == []
        assert send.attempt_id == "last"
        assert send.intent == AttemptChange("last", AttemptStatus.SENDING, None)
    else:
        assert made == [send.attempt_id]
        assert isinstance(send.intent, NewAttempt)
        assert send.intent.status == AttemptStatus.SENDING
        assert send.intent.step == send.step


class Settled(NamedTuple):
    """What a send's outcome makes of the attempt and of the message."""

    attempt: AttemptStatus
    attempt_reason: str | None
    status: Status
    step_moves: int
    tries: int | None  # the message's tries after (it had 1); None: its row is not written
    due: bool  # the engine looks at the message again by itself


OUTCOMES: list[tuple[Outcome, Settled]] = [
    (Delivered("p-1"), Settled(AttemptStatus.DELIVERED, None, Status.DELIVERED, 0, 0, False)),
    (Sent("p-1"), Settled(AttemptStatus.SENT, None, Status.PROCESSING, 0, None, True)),
    (
        Unreachable("NO_CHAT"),
        Settled(AttemptStatus.UNREACHABLE, "NO_CHAT", Status.PROCESSING, 1, 0, True),
    ),
    (Failed("REJECTED"), Settled(AttemptStatus.FAILED, "REJECTED", Status.PROCESSING, 1, 0, True)),
    (
        Misconfigured("INVALID_TOKEN"),
        Settled(AttemptStatus.FAILED, "INVALID_TOKEN", Status.PROCESSING, 1, 0, True),
    ),
    (Retry("TIMEOUT"), Settled(AttemptStatus.RETRYING, "TIMEOUT", Status.PROCESSING, 0, 2, True)),
    (
        Retry(Reason.INTENT_NOT_STORED),
        Settled(AttemptStatus.RETRYING, Reason.INTENT_NOT_STORED, Status.PROCESSING, 0, 1, True),
    ),
    (
        InDoubt("READ_TIMEOUT"),
        Settled(AttemptStatus.UNKNOWN, "READ_TIMEOUT", Status.UNDELIVERABLE, 0, 0, False),
    ),
    (
        Throttled(2.5, Reason.SENDER_PAUSED),
        Settled(AttemptStatus.PAUSED, Reason.SENDER_PAUSED, Status.PROCESSING, 0, 1, True),
    ),
]


def test_the_table_names_every_outcome() -> None:
    assert {type(outcome) for outcome, _ in OUTCOMES} == set(Outcome.__args__)


def job(tries: int) -> SendJob:
    c = msgspec.structs.replace(claim(Status.PROCESSING, None), tries=tries)
    outbound = Outbound(
        attempt_id="a-1",
        message_id=c.message_id,
        phone=PHONE,
        address=PHONE,
        content=Content(text="Hello"),
        from_name="Cascade",
        message_type=c.message_type,
        ttl_remaining_s=3600,
        sender=Sender("sms", ""),
    )
    return SendJob(c, STEP, routes.SMS, "a-1", outbound, AttemptChange("a-1", "sending", None))


@pytest.mark.parametrize(("outcome", "expected"), OUTCOMES, ids=lambda v: type(v).__name__)
def test_settle_over_every_outcome(outcome: Outcome, expected: Settled) -> None:
    done = settle(job(tries=1), outcome, NOW, 60)
    [attempt] = done.attempt_changes
    assert (attempt.id, attempt.status, attempt.reason) == (
        "a-1",
        expected.attempt,
        expected.attempt_reason,
    )
    assert done.message.status == expected.status
    assert done.message.step == STEP + expected.step_moves
    assert (done.message.due_at_ms is not None) == expected.due
    assert done.message.store_message == (expected.tries is not None)
    if expected.tries is not None:
        assert done.message.tries == expected.tries  # a new step starts with none spent
    if expected.status is Status.UNDELIVERABLE:
        assert done.message.reason == Reason.IN_DOUBT


@pytest.mark.parametrize(("outcome", "expected"), OUTCOMES, ids=lambda v: type(v).__name__)
def test_settle_with_the_last_try_spent(outcome: Outcome, expected: Settled) -> None:
    """On the last try, only a retry that spends one gives the step up."""
    done = settle(job(tries=MAX_TRIES - 1), outcome, NOW, 60)
    [attempt] = done.attempt_changes
    if isinstance(outcome, Retry) and outcome.reason != Reason.INTENT_NOT_STORED:
        assert (attempt.status, attempt.reason) == (
            AttemptStatus.FAILED,
            Reason.RETRIES_EXHAUSTED,
        )
        assert done.message.step == STEP + 1
    else:
        assert attempt.status == expected.attempt
        assert done.message.step == STEP + expected.step_moves


@pytest.mark.parametrize("expired", [False, True])
def test_a_send_in_doubt_goes_again_where_the_provider_refuses_repeats(expired: bool) -> None:
    """On a channel whose provider refuses a second send under one id (RBM's messageId), a
    send a dead worker left `sending` goes again as the same attempt; after the expiry it
    is not sent, and stays in doubt."""
    idempotent = dataclasses.replace(LIMITS, idempotent_sends=True)
    channels = {**CHANNELS, routes.VIBER_BOT: ChannelInfo(idempotent, 60)}
    c = claim(Status.PROCESSING, AttemptStatus.SENDING)
    decided = plan(c, EXPIRES + 1 if expired else NOW, channels, BOTS, CONTACTS, new_id=_no_new_id)
    message = decided.transition.message
    if expired:
        assert decided.send is None
        assert (message.status, message.reason) == (Status.EXPIRED, Reason.TTL_EXPIRED)
        assert [(a.id, a.status, a.reason) for a in decided.transition.attempt_changes] == [
            ("last", AttemptStatus.UNKNOWN, Reason.IN_DOUBT)
        ]
    else:
        assert decided.send is not None
        assert (decided.send.step, decided.send.attempt_id) == (STEP, "last")
        assert decided.send.intent == AttemptChange("last", AttemptStatus.SENDING, None)
        assert message.status == Status.PROCESSING
        assert decided.transition.attempt_changes == ()


def _no_new_id() -> str:
    raise AssertionError("a send in doubt goes again as the same attempt")
