"""The cancel decision (`cascade.domain.cancel.decide_cancel`): properties over any message
state hypothesis makes up, and the request's own rules."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from msgspec.structs import replace

from cascade.domain.cancel import (
    CancelAnswer,
    CancelState,
    cancel_request,
    decide_cancel,
    in_flight,
)
from cascade.domain.delivery import FINAL, is_final
from cascade.domain.lifecycle import AttemptStatus, Reason
from cascade.domain.message import Status
from cascade.domain.planner import ChannelInfo
from cascade.domain.records import Claimed
from tests.test_domain_planner import CHANNELS, claims, decide

NOW = 1_800_000_000_000

states = st.builds(
    CancelState,
    message_id=st.just("m-1"),
    status=st.sampled_from(list(Status)).map(str),
    step=st.integers(0, 5),
    channel=st.sampled_from([None, "sms", "viber_bot"]),
    reason=st.sampled_from([None, "NO_CONFIRMATION", "IN_DOUBT"]),
    attempt=st.none()
    | st.tuples(st.just("a-1"), st.integers(0, 5), st.sampled_from(list(AttemptStatus)).map(str)),
    held=st.booleans(),
    requested=st.booleans(),
)


def after(state: CancelState) -> CancelState:
    """The state once a decision is written, as the store writes it."""
    decision = decide_cancel(state, NOW)
    if decision.change is not None:
        c = decision.change
        attempt = state.attempt
        if decision.attempt_change is not None and attempt is not None:
            attempt = (attempt[0], attempt[1], decision.attempt_change.status)
        return replace(state, status=c.status, reason=c.reason, attempt=attempt)
    return replace(state, requested=state.requested or decision.mark)


@given(states)
def test_a_final_message_never_changes_and_is_answered_with_its_status(
    state: CancelState,
) -> None:
    decision = decide_cancel(state, NOW)
    if is_final(state.status):
        assert decision.answer == state.status
        assert (decision.change, decision.attempt_change, decision.mark) == (None, None, False)


@given(states)
def test_every_message_not_final_is_cancelled_or_cancelling(state: CancelState) -> None:
    decision = decide_cancel(state, NOW)
    if is_final(state.status):
        return
    if in_flight(state):
        # nothing is written but the mark: the step's outcome decides the rest
        assert decision.answer == CancelAnswer.CANCELLING
        assert decision.change is None
        assert decision.mark is not state.requested
    else:
        assert decision.answer == CancelAnswer.CANCELLED
        assert decision.change is not None
        assert (decision.change.status, decision.change.reason) == (
            Status.CANCELLED,
            Reason.CANCELLED,
        )
        assert decision.change.due_at_ms is None  # its task goes: nothing more is sent
        assert not decision.mark


@given(states)
def test_cancelling_twice_is_cancelling_once(state: CancelState) -> None:
    once = after(state)
    twice = after(once)
    assert twice == once
    second = decide_cancel(once, NOW)
    assert (second.change, second.attempt_change, second.mark) == (None, None, False)
    assert second.answer in {CancelAnswer.CANCELLING, *FINAL}


def test_a_step_of_an_earlier_attempt_is_not_in_flight() -> None:
    sent_before = CancelState("m", Status.PROCESSING, 2, attempt=("a", 1, AttemptStatus.SENT))
    assert not in_flight(sent_before)
    assert in_flight(replace(sent_before, step=1))
    assert in_flight(CancelState("m", Status.SCHEDULED, 0, held=True))


def test_a_request_names_one_kind_of_id_and_answers_each_once() -> None:
    request = cancel_request(None, ["b", "a", "b"])
    assert (request.ids, request.by_tracking_id) == (("b", "a"), True)
    assert cancel_request(["x"] * 5000, None).ids == ("x",)


@given(claims(st.sampled_from([Status.SCHEDULED, Status.PROCESSING])), CHANNELS)
def test_the_planner_takes_no_further_step_for_a_message_cancelled_in_flight(
    c: Claimed, channels: dict[str, ChannelInfo]
) -> None:
    decided, ids = decide(replace(c, cancel_requested=True), channels)
    assert decided.send is None
    assert ids.made == []
    message = decided.transition.message
    if not is_final(message.status):
        # still waiting for the step in flight: its window has not ended
        last = c.last_attempt
        assert last is not None
        assert last.status == AttemptStatus.SENT
        assert message.due_at_ms == last.window_ends_at_ms
    elif message.status == Status.CANCELLED:
        assert message.reason == Reason.CANCELLED
