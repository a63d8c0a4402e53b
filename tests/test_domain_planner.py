"""A claimed message's next move and what a send's outcome leads to (`domain.planner`),
pure: the invariants as properties over any claimed state.

- nothing is sent for a message that is final, or after its expiry;
- a step is never sent twice: an attempt that is `sending`, or `sent` within its window,
  is never followed by a send; any other settled attempt is followed only by a later step;
  a send that did not leave (`retrying`, `paused`) goes again as the same attempt;
- a send that never reached the provider (its intent not stored) is never given up: it
  neither ends nor advances the step, and costs no try;
- `plan` and `settle` are pure: the same inputs give the same answer, and a new attempt's
  id is the caller's.
"""

from __future__ import annotations

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from cascade.domain import routes
from cascade.domain.content import Content, Step
from cascade.domain.delivery import FINAL, MAX_TRIES
from cascade.domain.lifecycle import AttemptStatus, Reason
from cascade.domain.message import MessageType, Route, Status
from cascade.domain.planner import ChannelInfo, SendJob, plan, settle
from cascade.domain.records import AttemptChange, AttemptRow, Claimed, Contact, SenderRow
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

PHONE = "+380501234567"
ACCOUNT = "acct"
NOW = 1_000_000_000
LIMITS = Limits(
    max_text=4096,
    per_sender_per_second=None,
    per_recipient_per_second=None,
    confirms_delivery=True,
    delivery_window_s=60,
)
BOTS = {
    (ACCOUNT, channel): [SenderRow(f"{channel}-bot", ACCOUNT, channel, "token", "secret")]
    for channel in (routes.TELEGRAM, routes.VIBER_BOT)
}
CONTACTS = {
    (channel, f"{channel}-bot", PHONE): Contact(f"{channel}-user", True)
    for channel in (routes.TELEGRAM, routes.VIBER_BOT)
}
INFO = st.builds(ChannelInfo, st.just(LIMITS), st.integers(1, 600), st.booleans())
# mostly every channel configured (so that steps are sent), sometimes a few
CHANNELS = st.fixed_dictionaries(dict.fromkeys(routes.ALL_CHANNELS, INFO)) | (
    st.dictionaries(st.sampled_from(routes.ALL_CHANNELS), INFO)
)
# not a flash call with a fallback: its fallback starts a TTL of its own
MESSAGE_TYPES = st.sampled_from(
    [MessageType.TRANSACTION, MessageType.PROMO, MessageType.VIBER_SURVEY]
)


# an explicit plan (the core API's) instead of the route, sometimes
PLANS = st.lists(
    st.builds(
        Step,
        st.sampled_from(routes.ALL_CHANNELS),
        st.sampled_from([Content(text="Hello"), Content(text="Q", survey=("a", "b"))]),
    ),
    min_size=1,
    max_size=6,
).map(tuple)


class Ids:
    """A new attempt's ids, counted."""

    def __init__(self) -> None:
        self.made: list[str] = []

    def __call__(self) -> str:
        self.made.append(f"attempt-{len(self.made)}")
        return self.made[-1]


@st.composite
def attempts(draw: st.DrawFn, step: int) -> AttemptRow:
    return AttemptRow(
        id="last-attempt",
        step=step,
        channel=draw(st.sampled_from(routes.ALL_CHANNELS)),
        status=draw(st.sampled_from(AttemptStatus)).value,
        reason=draw(st.none() | st.just("SOME_REASON")),
        sender_id=None,
        address=PHONE,
        provider_message_id=draw(st.none() | st.just("provider-1")),
        started_at_ms=NOW - 120_000,
        window_ends_at_ms=draw(st.none() | st.integers(NOW - 60_000, NOW + 60_000)),
    )


@st.composite
def claims(draw: st.DrawFn, status: st.SearchStrategy[Status] | None = None) -> Claimed:
    step = draw(st.integers(0, 5))
    last = draw(st.none() | attempts(draw(st.sampled_from([step, max(0, step - 1)]))))
    return Claimed(
        message_id="message-1",
        account_id=ACCOUNT,
        tracking_id="tracking-1",
        route=draw(st.sampled_from(Route)).value,
        message_type=draw(MESSAGE_TYPES).value,
        phone=PHONE,
        text=draw(st.sampled_from(["Hello", "Hello", "Hello", None, "x" * 5000])),
        from_name="Cascade",
        survey_options=draw(st.sampled_from([(), ("yes", "no")])),
        status=draw(status if status is not None else st.sampled_from(Status)).value,
        step=step,
        expires_at_ms=draw(st.integers(NOW + 1, NOW + 3_600_000) | st.integers(NOW - 60_000, NOW)),
        tries=draw(st.integers(0, 4)),
        event_seq=0,
        last_attempt=last,
        channel_order=draw(st.none() | st.permutations(routes.ALL_CHANNELS).map(tuple)),
        plan=draw(st.just(()) | PLANS),
    )


def decide(c: Claimed, channels: dict[str, ChannelInfo], now: int = NOW):  # type: ignore[no-untyped-def]
    ids = Ids()
    return plan(c, now, channels, BOTS, CONTACTS, new_id=ids), ids


@given(claims(), CHANNELS)
def test_plan_is_pure(c: Claimed, channels: dict[str, ChannelInfo]) -> None:
    first, _ = decide(c, channels)
    again, _ = decide(c, channels)
    assert first == again


@given(claims(st.sampled_from(sorted(FINAL))), CHANNELS)
def test_nothing_is_sent_for_a_final_message(c: Claimed, channels: dict[str, ChannelInfo]) -> None:
    decided, ids = decide(c, channels)
    assert decided.send is None
    assert ids.made == []
    assert decided.transition.message.status == c.status  # a final status stays final
    assert decided.transition.attempt_changes == ()


@given(claims(), CHANNELS, st.integers(0, 3_600_000))
def test_nothing_is_sent_after_expiry(
    c: Claimed, channels: dict[str, ChannelInfo], late_ms: int
) -> None:
    decided, ids = decide(c, channels, now=c.expires_at_ms + late_ms)
    assert decided.send is None
    assert ids.made == []


@given(claims(st.sampled_from([Status.SCHEDULED, Status.PROCESSING])), CHANNELS)
def test_a_step_is_never_sent_twice(c: Claimed, channels: dict[str, ChannelInfo]) -> None:
    decided, ids = decide(c, channels)
    send = decided.send
    last = c.last_attempt
    if last is None or last.step != c.step:
        return
    status = AttemptStatus(last.status)
    if status is AttemptStatus.SENDING:
        # it may have reached the provider: never repeated, the message ends in doubt
        assert send is None
        assert decided.transition.message.status == Status.UNDELIVERABLE
        assert decided.transition.message.reason == Reason.IN_DOUBT
        assert [a.status for a in decided.transition.attempt_changes] == [AttemptStatus.UNKNOWN]
    elif status is AttemptStatus.SENT and last.window_ends_at_ms and last.window_ends_at_ms > NOW:
        assert send is None  # its report is awaited
        assert decided.transition.attempt_changes == ()
    elif status in (AttemptStatus.RETRYING, AttemptStatus.PAUSED):
        # it never left: if it goes now, it goes as the same attempt, on the same step
        if send is not None and send.step == c.step:
            assert send.attempt_id == last.id
            assert isinstance(send.intent, AttemptChange)
            assert ids.made == []
    elif send is not None:
        assert send.step > last.step
    if send is not None:
        assert send.outbound.attempt_id == send.attempt_id
        assert ids.made in ([], [send.attempt_id])
    else:
        assert ids.made == []


def job(c: Claimed, step: int) -> SendJob:
    outbound = Outbound(
        attempt_id="attempt-1",
        message_id=c.message_id,
        phone=c.phone,
        address=c.phone,
        content=Content(text="Hello"),
        from_name=c.from_name,
        message_type=c.message_type,
        ttl_remaining_s=60,
        sender=Sender("sms", ""),
    )
    intent = AttemptChange("attempt-1", AttemptStatus.SENDING, None)
    return SendJob(c, step, routes.SMS, "attempt-1", outbound, intent)


OUTCOMES: st.SearchStrategy[Outcome] = st.one_of(
    st.builds(Delivered, st.just("p-1")),
    st.builds(Sent, st.just("p-1")),
    st.builds(Unreachable, st.just("NO_CHAT"), st.booleans()),
    st.builds(Failed, st.just("REJECTED")),
    st.builds(Misconfigured, st.just("INVALID_TOKEN")),
    st.builds(Retry, st.sampled_from(["TIMEOUT", Reason.INTENT_NOT_STORED.value])),
    st.builds(InDoubt, st.just("READ_TIMEOUT")),
    st.builds(Throttled, st.floats(0.0, 60.0)),
)


@given(claims(st.just(Status.PROCESSING)), st.integers(0, 2 * MAX_TRIES))
def test_a_send_that_never_reached_the_provider_is_never_given_up(c: Claimed, tries: int) -> None:
    c = msgspec.structs.replace(c, tries=tries)
    done = settle(job(c, c.step), Retry(Reason.INTENT_NOT_STORED), NOW, 60)
    assert done.message.step == c.step  # not advanced
    assert done.message.status == Status.PROCESSING  # not ended
    assert done.message.tries == c.tries  # no try spent
    assert done.message.due_at_ms is not None  # looked at again
    assert [(a.id, a.status) for a in done.attempt_changes] == [
        ("attempt-1", AttemptStatus.RETRYING)
    ]


@given(claims(st.just(Status.PROCESSING)), OUTCOMES, st.integers(1, 600))
def test_settle_is_pure_and_moves_at_most_one_step(
    c: Claimed, outcome: Outcome, window_s: int
) -> None:
    done = settle(job(c, c.step), outcome, NOW, window_s)
    assert done == settle(job(c, c.step), outcome, NOW, window_s)
    assert done.message.step in (c.step, c.step + 1)
    assert [a.id for a in done.attempt_changes] == ["attempt-1"]
    if done.message.step == c.step + 1:
        assert done.message.status == Status.PROCESSING
        assert isinstance(outcome, Unreachable | Failed | Misconfigured | Retry)
