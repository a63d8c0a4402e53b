"""Cancelling messages (SPEC A9, a Cascade extension): what a cancel request does to each
message, decided from the message's state alone, without I/O.

- A final message is left alone; the answer is its status.
- A message with no step in flight ends `cancelled` at once: its task goes, and an attempt
  waiting to be tried again (`retrying`, `paused`: its request never reached the provider,
  or the provider refused it) ends `failed` with reason CANCELLED.
- A message with a step in flight — a worker holds it under a live lease (it may be
  sending right now), or its current step's attempt is `sending` or `sent` (waiting for
  its report) — is only marked; the answer is `cancelling`. The engine honours the mark
  once that step's outcome is known: if the step delivers, the message is `delivered`
  (it reached the person; calling it cancelled would be false), otherwise it ends
  `cancelled` and no further step is taken (`cascade.domain.planner.plan`).
- Asking again changes nothing: a marked message answers `cancelling` again, a cancelled
  one `cancelled` (its final status).

The store reads the state, calls `decide_cancel`, and writes what it returns in the same
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

import msgspec

from cascade.domain.delivery import is_final
from cascade.domain.errors import RequestRejected
from cascade.domain.lifecycle import AttemptStatus, Reason
from cascade.domain.message import Status
from cascade.domain.records import AttemptChange, MessageChange

MAX_CANCEL_IDS = 5000  # as many as one send request may carry

# the current step's attempt statuses that mean its request is out, its outcome unknown
IN_FLIGHT = frozenset({AttemptStatus.SENDING, AttemptStatus.SENT})
# an attempt that waits to be sent again: it ends with the message
WAITING_TO_RESEND = frozenset({AttemptStatus.RETRYING, AttemptStatus.PAUSED})


class CancelAnswer(StrEnum):
    """What a cancel request answers for an id, besides a final message's own status."""

    CANCELLED = "cancelled"
    CANCELLING = "cancelling"
    NOT_FOUND = "not_found"


class CancelState(msgspec.Struct, frozen=True):
    """A message as a cancel request finds it."""

    message_id: str
    status: str
    step: int
    channel: str | None = None
    reason: str | None = None
    # the newest attempt: its id, step and status (None: nothing tried yet)
    attempt: tuple[str, int, str] | None = None
    held: bool = False  # a worker holds its task under a live lease
    requested: bool = False  # a cancel was requested before


class CancelDecision(msgspec.Struct, frozen=True):
    """What to answer, and what to write: a message change that ends it now (with its
    attempt's change), or the mark for the engine (`mark`)."""

    answer: str  # `cancelled`, `cancelling`, or a final message's status
    change: MessageChange | None = None
    attempt_change: AttemptChange | None = None
    mark: bool = False


def in_flight(state: CancelState) -> bool:
    """Whether a step of the message is out and its outcome not known yet."""
    if state.held:
        return True
    attempt = state.attempt
    return attempt is not None and attempt[1] == state.step and attempt[2] in IN_FLIGHT


def decide_cancel(state: CancelState, now_ms: int) -> CancelDecision:
    """What cancelling this message does now (see the module's rules)."""
    if is_final(state.status):
        return CancelDecision(state.status)
    if in_flight(state):
        return CancelDecision(CancelAnswer.CANCELLING, mark=not state.requested)
    change = MessageChange(
        state.message_id,
        Status.CANCELLED.value,
        state.step,
        None,
        Reason.CANCELLED.value,
        None,  # no more work: the task goes
    )
    attempt_change = None
    attempt = state.attempt
    if attempt is not None and attempt[2] in WAITING_TO_RESEND:
        attempt_change = AttemptChange(
            attempt[0], AttemptStatus.FAILED, Reason.CANCELLED.value, finished_at_ms=now_ms
        )
    return CancelDecision(CancelAnswer.CANCELLED, change, attempt_change)


class CancelOutcome(msgspec.Struct, frozen=True):
    """The answer for one id asked for: its message (None: not found) and `status`,
    `cancelled`, `cancelling`, a final message's status, or `not_found`."""

    id: str
    status: str
    message_id: str | None = None


class CancelRequest(msgspec.Struct, frozen=True):
    """Which messages to cancel: by Cascade's message ids, or by the client's tracking
    ids (one kind per request)."""

    ids: tuple[str, ...]
    by_tracking_id: bool = False


def cancel_request(
    message_ids: Sequence[str] | None, tracking_ids: Sequence[str] | None
) -> CancelRequest:
    """The request as the contract allows it: exactly one of the two lists, with 1 to
    `MAX_CANCEL_IDS` ids; raises RequestRejected naming the field otherwise. An id given
    twice is answered once."""
    if (message_ids is None) == (tracking_ids is None):
        raise RequestRejected(
            "INVALID_REQUEST", "Give either messageIds or trackingIds, not both or neither"
        )
    field = "messageIds" if message_ids is not None else "trackingIds"
    ids = message_ids if message_ids is not None else tracking_ids
    assert ids is not None
    if not ids:
        raise RequestRejected("EMPTY_BATCH", "At least one id is required", field)
    if len(ids) > MAX_CANCEL_IDS:
        raise RequestRejected("BATCH_TOO_LARGE", f"At most {MAX_CANCEL_IDS} ids per request", field)
    for index, value in enumerate(ids):
        if not value or "\x00" in value:
            raise RequestRejected("INVALID_ID", "An id is a non-empty string", f"{field}[{index}]")
    return CancelRequest(tuple(dict.fromkeys(ids)), by_tracking_id=tracking_ids is not None)
