"""The lifecycle of a message and its attempts: the statuses, the engine's own reasons, and
what a provider's delivery report does to them, as a pure function.

An attempt is one step of the cascade on one channel:

- `sending`: its intent is committed and its request is leaving (a crash here leaves it
  in doubt); `retrying` / `paused`: it did not leave and will be sent again;
- `sent`: the provider took it and a report is awaited within the step's window;
- `delivered`, `read`: confirmed; `unreachable`, `failed`: the step is over, the next
  one follows; `skipped`: the step was passed over without a send; `timeout`: no report
  came within the window;
- `unknown`: the request left and no answer was recorded (IN_DOUBT): it is never sent
  again, and the message ends `undeliverable` — until a report for it settles it.

A report never lowers what is known: `read` beats `delivered`, a failure ends only an
attempt still waiting (or in doubt), and a message that is final stays final, except that
`read` may follow `delivered` and a report may settle a message that ended in doubt.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

import msgspec
from msgspec.structs import replace

from cascade.domain.delivery import is_final
from cascade.domain.events import DeliveryReport
from cascade.domain.message import Status


class AttemptStatus(StrEnum):
    SENDING = "sending"
    RETRYING = "retrying"
    PAUSED = "paused"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    UNREACHABLE = "unreachable"
    FAILED = "failed"
    SKIPPED = "skipped"
    TIMEOUT = "timeout"
    UNKNOWN = "unknown"


class ReportState(StrEnum):
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


class Reason(StrEnum):
    """The reasons the engine itself gives (a provider's own reasons are its codes)."""

    IN_DOUBT = "IN_DOUBT"  # the request left and no answer was recorded
    INTENT_NOT_STORED = "INTENT_NOT_STORED"  # the intent could not be committed: not sent
    NOT_CONFIGURED = "NOT_CONFIGURED"  # the channel (or a bot for it) is not set up
    TEXT_TOO_LONG = "TEXT_TOO_LONG"  # the channel cannot carry a text this long
    NO_TEXT = "NO_TEXT"
    CONTENT_NOT_CARRIED = "CONTENT_NOT_CARRIED"  # nothing the channel shows can stand for it
    BLOCKED = "BLOCKED"  # the person blocked the bot
    SENDER_PAUSED = "SENDER_PAUSED"  # the sender was throttled: the send waits
    PACED = "PACED"  # the channel's rate gives the send a turn after its claim's lease
    NO_CONFIRMATION = "NO_CONFIRMATION"  # no report within the step's window
    RETRIES_EXHAUSTED = "RETRIES_EXHAUSTED"
    TTL_EXPIRED = "TTL_EXPIRED"
    ROUTE_EXHAUSTED = "ROUTE_EXHAUSTED"  # every step was tried or passed over
    INVALID_NUMBER = "INVALID_NUMBER"  # the numbering plan says the number cannot exist
    CANCELLED = "CANCELLED"  # the client cancelled it (SPEC A9)


class ReportFate(StrEnum):
    """What became of a delivery report when it reached the store."""

    APPLIED = "applied"  # its attempt was found and the rule applied
    NO_ATTEMPT = "no_attempt"  # no attempt has its provider id (yet): kept as an orphan
    HELD = "held"  # a worker's lease holds its message: kept until the lease ends


# A provider's failure reasons that mean the person cannot be reached on that channel: a
# `failed` report with one of them makes the attempt `unreachable` (SPEC B2).
UNREACHABLE_REASONS = frozenset(
    {"NOT_VIBER_USER", "BLOCKED", "NO_SUITABLE_DEVICE", "NO_RCS", "NO_CHAT", "NOT_SUBSCRIBED"}
)

# Attempts a failure report still ends: waiting for a report, or not known to have left.
FAILABLE = frozenset(
    {AttemptStatus.SENT, AttemptStatus.SENDING, AttemptStatus.TIMEOUT, AttemptStatus.UNKNOWN}
)


class Report(msgspec.Struct, frozen=True):
    """What a delivery report says: its state, when, why (a failure's reason), and for a
    message sent in segments whether this segment was counted delivered already."""

    state: ReportState
    at_ms: int
    reason: str | None = None
    channel: str = ""
    segment_seen: bool | None = None  # None: not a segment's report

    @classmethod
    def of(cls, report: DeliveryReport, segment_seen: bool | None) -> Report:
        """The rule's view of a provider's delivery report (`segment_seen`: see above)."""
        return cls(
            ReportState(report.state), report.at_ms, report.reason, report.channel, segment_seen
        )


class AttemptRowLike(Protocol):
    """An attempt as a store keeps it (its finish time as `finished_at`)."""

    @property
    def status(self) -> str: ...
    @property
    def step(self) -> int: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def finished_at(self) -> int | None: ...
    @property
    def parts(self) -> int | None: ...
    @property
    def parts_delivered(self) -> int: ...


class AttemptState(msgspec.Struct, frozen=True):
    status: str
    step: int
    reason: str | None = None
    finished_at_ms: int | None = None
    parts: int | None = None
    parts_delivered: int = 0

    @classmethod
    def of(cls, row: AttemptRowLike) -> AttemptState:
        """The rule's view of a stored attempt."""
        return cls(
            row.status, row.step, row.reason, row.finished_at, row.parts, row.parts_delivered
        )


class MessageState(msgspec.Struct, frozen=True):
    status: str
    step: int
    channel: str | None = None
    reason: str | None = None


class ReportEffect(msgspec.Struct, frozen=True):
    """What a report changes: the attempt, whether its segment now counts as delivered,
    the message (None: unchanged), and whether the engine must look at the message now
    (a failure of the step in progress: the next step follows)."""

    attempt: AttemptState
    segment_delivered: bool = False
    message: MessageState | None = None
    wake: bool = False


def apply_report(
    report: Report, attempt: AttemptState, message: MessageState | None
) -> ReportEffect:
    """The effect of one report on its attempt and message (see the module's rules)."""
    before = attempt.status
    counted = False
    segmented = (attempt.parts or 1) > 1 and report.segment_seen is not None
    if segmented and report.state == ReportState.DELIVERED:
        # a message in segments is delivered when every segment is
        if report.segment_seen:
            return ReportEffect(attempt)  # a repeated receipt for a segment counted
        counted = True
        attempt = replace(attempt, parts_delivered=attempt.parts_delivered + 1)
        if attempt.parts_delivered < (attempt.parts or 1):
            return ReportEffect(attempt, segment_delivered=True)
    state = report.state
    if (
        state == ReportState.READ
        or (state == ReportState.DELIVERED and before != AttemptStatus.READ)
        or (state == ReportState.FAILED and before in FAILABLE)
    ):
        if state == ReportState.FAILED:
            unreachable = report.reason in UNREACHABLE_REASONS
            status = AttemptStatus.UNREACHABLE if unreachable else AttemptStatus.FAILED
            attempt = replace(
                attempt, status=status, reason=report.reason, finished_at_ms=report.at_ms
            )
        else:
            attempt = replace(attempt, status=state.value, reason=None, finished_at_ms=report.at_ms)
    if message is None:
        return ReportEffect(attempt, counted)
    # the step in progress; or the send a message ended in doubt over, now settled
    settles_doubt = before == AttemptStatus.UNKNOWN and message.reason == Reason.IN_DOUBT
    current_step = message.step == attempt.step and (not is_final(message.status) or settles_doubt)
    if state in (ReportState.DELIVERED, ReportState.READ) and current_step:
        settled = MessageState(state.value, message.step, report.channel, None)
        return ReportEffect(attempt, counted, settled)
    if (
        state == ReportState.READ
        and message.status == Status.DELIVERED
        and message.channel == report.channel
    ):
        return ReportEffect(attempt, counted, replace(message, status=Status.READ, reason=None))
    return ReportEffect(attempt, counted, wake=state == ReportState.FAILED and current_step)
