"""What a delivery report does to an attempt and its message (`domain.lifecycle`), pure:
every (attempt status, report) pair in a table, and the invariants as properties."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cascade.domain.lifecycle import (
    AttemptState,
    AttemptStatus,
    MessageState,
    Reason,
    Report,
    ReportState,
    apply_report,
)
from cascade.domain.message import Status

A = AttemptStatus
STEP = 2
NOW = 1_000_000

# the attempt's status after a report delivered, read, failed, for an attempt of the step
# in progress
AFTER: dict[A, tuple[A, A, A]] = {
    A.SENDING: (A.DELIVERED, A.READ, A.FAILED),
    A.RETRYING: (A.DELIVERED, A.READ, A.RETRYING),
    A.PAUSED: (A.DELIVERED, A.READ, A.PAUSED),
    A.SENT: (A.DELIVERED, A.READ, A.FAILED),
    A.DELIVERED: (A.DELIVERED, A.READ, A.DELIVERED),
    A.READ: (A.READ, A.READ, A.READ),
    A.UNREACHABLE: (A.DELIVERED, A.READ, A.UNREACHABLE),
    A.FAILED: (A.DELIVERED, A.READ, A.FAILED),
    A.SKIPPED: (A.DELIVERED, A.READ, A.SKIPPED),
    A.TIMEOUT: (A.DELIVERED, A.READ, A.FAILED),
    A.UNKNOWN: (A.DELIVERED, A.READ, A.FAILED),
}
ORDER = (ReportState.DELIVERED, ReportState.READ, ReportState.FAILED)


def test_the_table_covers_every_pair() -> None:
    assert set(AFTER) == set(A)
    assert set(ORDER) == set(ReportState)


@pytest.mark.parametrize(("before", "state"), list(itertools.product(AttemptStatus, ReportState)))
def test_each_report_on_each_attempt_of_the_step_in_progress(
    before: AttemptStatus, state: ReportState
) -> None:
    message = MessageState(Status.PROCESSING, STEP)
    effect = apply_report(
        Report(state, NOW, "REJECTED", "sms"), AttemptState(before, STEP), message
    )
    assert effect.attempt.status == AFTER[before][ORDER.index(state)]
    if effect.attempt.status != before:
        assert effect.attempt.finished_at_ms == NOW
    if state == ReportState.FAILED:
        # the step in progress failed: the engine looks at the message now
        assert (effect.message, effect.wake) == (None, True)
    else:
        assert effect.message == MessageState(state.value, STEP, "sms", None)
        assert not effect.wake


@pytest.mark.parametrize(
    ("reason", "status"),
    [("BLOCKED", A.UNREACHABLE), ("NOT_VIBER_USER", A.UNREACHABLE), ("REJECTED", A.FAILED)],
)
def test_a_failure_that_means_unreachable(reason: str, status: AttemptStatus) -> None:
    effect = apply_report(
        Report(ReportState.FAILED, NOW, reason, "viber_bot"),
        AttemptState(A.SENT, STEP),
        MessageState(Status.PROCESSING, STEP),
    )
    assert (effect.attempt.status, effect.attempt.reason) == (status, reason)


def test_a_report_for_an_earlier_step_changes_its_attempt_only() -> None:
    message = MessageState(Status.PROCESSING, STEP + 1)
    for state in ReportState:
        effect = apply_report(Report(state, NOW, None, "sms"), AttemptState(A.SENT, STEP), message)
        assert effect.message is None
        assert not effect.wake


def test_read_follows_delivered_on_the_same_channel_only() -> None:
    delivered = MessageState(Status.DELIVERED, STEP, "viber_bot")
    read = Report(ReportState.READ, NOW, None, "viber_bot")
    effect = apply_report(read, AttemptState(A.DELIVERED, STEP), delivered)
    assert effect.message == MessageState(Status.READ, STEP, "viber_bot", None)
    other = Report(ReportState.READ, NOW, None, "sms")
    assert apply_report(other, AttemptState(A.DELIVERED, STEP - 1), delivered).message is None


def test_a_report_settles_a_message_that_ended_in_doubt() -> None:
    in_doubt = MessageState(Status.UNDELIVERABLE, STEP, "sms", Reason.IN_DOUBT)
    effect = apply_report(
        Report(ReportState.DELIVERED, NOW, None, "sms"), AttemptState(A.UNKNOWN, STEP), in_doubt
    )
    assert effect.message == MessageState(Status.DELIVERED, STEP, "sms", None)
    # a failure keeps it undeliverable: it was never delivered
    failed = apply_report(
        Report(ReportState.FAILED, NOW, "EXPIRED", "sms"), AttemptState(A.UNKNOWN, STEP), in_doubt
    )
    assert (failed.attempt.status, failed.message) == (A.FAILED, None)


# --- invariants ---------------------------------------------------------------------------

FINAL = [Status.DELIVERED, Status.READ, Status.UNDELIVERABLE, Status.EXPIRED, Status.CANCELLED]
reports = st.builds(
    Report,
    st.sampled_from(list(ReportState)),
    st.integers(0, 10**12),
    st.sampled_from([None, "REJECTED", "BLOCKED"]),
    st.sampled_from(["sms", "viber_bot"]),
)


@given(
    st.sampled_from(FINAL),
    st.sampled_from(list(AttemptStatus)),
    st.lists(reports, max_size=6),
    st.sampled_from([None, "TTL_EXPIRED", "ROUTE_EXHAUSTED"]),
)
def test_a_final_message_stays_final(
    status: Status, attempt_status: AttemptStatus, sequence: list[Report], reason: str | None
) -> None:
    """Only `read` may follow `delivered` (on the channel that delivered it); no report
    reopens or lowers a final message not ended in doubt."""
    message = MessageState(status, STEP, "viber_bot", reason)
    attempt = AttemptState(attempt_status, STEP)
    for report in sequence:
        effect = apply_report(report, attempt, message)
        attempt = effect.attempt
        assert not effect.wake
        if effect.message is not None:
            assert (message.status, effect.message.status) == (Status.DELIVERED, Status.READ)
            assert report.channel == message.channel
            message = effect.message
    assert message.status in (status, Status.READ)


@given(st.permutations([ReportState.DELIVERED, ReportState.READ, ReportState.DELIVERED]))
def test_read_is_never_lowered_whatever_the_order(order: list[ReportState]) -> None:
    """A report is never lost, whenever it arrives: delivered and read, in any order,
    end read."""
    attempt = AttemptState(A.SENT, STEP)
    message = MessageState(Status.PROCESSING, STEP)
    for state in order:
        effect = apply_report(Report(state, NOW, None, "viber_bot"), attempt, message)
        attempt, message = effect.attempt, effect.message or message
    assert (attempt.status, message.status) == (A.READ, Status.READ)


@given(
    st.integers(2, 6).flatmap(
        lambda n: st.tuples(st.just(n), st.lists(st.integers(0, n - 1), min_size=1, max_size=3 * n))
    )
)
def test_a_message_in_segments_is_delivered_when_every_segment_is(
    parts_and_receipts: tuple[int, list[int]],
) -> None:
    """Receipts for segments, in any order and repeated: delivered exactly when every
    segment has been counted once."""
    parts, receipts = parts_and_receipts
    attempt = AttemptState(A.SENT, STEP, parts=parts)
    message = MessageState(Status.PROCESSING, STEP)
    seen: set[int] = set()
    for segment in receipts:
        report = Report(ReportState.DELIVERED, NOW, None, "sms", segment_seen=segment in seen)
        effect = apply_report(report, attempt, message)
        assert effect.segment_delivered == (segment not in seen)
        seen.add(segment)
        attempt, message = effect.attempt, effect.message or message
        assert attempt.parts_delivered == len(seen)
    delivered = len(seen) == parts
    assert (attempt.status == A.DELIVERED) == delivered
    assert (message.status == Status.DELIVERED) == delivered
