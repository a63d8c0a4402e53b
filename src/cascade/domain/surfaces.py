"""The API surfaces a message can come through, and what each says of its status.

Part A's Cascade API and Part D's core SMSBAT API (`/bat/…`) drive the same engine; a
message remembers its surface, so that its status reads and its status webhooks take that
surface's shape. The core API speaks the provider's five `deliverystatus` values (SPEC
D5), mapped here from Cascade's statuses, once, for the status answer and the webhooks.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from cascade.domain.lifecycle import AttemptStatus, Reason
from cascade.domain.message import Status


class Surface(StrEnum):
    CASCADE = "cascade"  # Part A: /api/CascadeMessage/…
    BAT = "bat"  # Part D: /bat/…


class DeliveryStatus(StrEnum):
    """The core API's message status (SPEC D5): the provider's five values."""

    SCHEDULED = "scheduled"
    PROCESSING = "processing"
    DELIVERED = "delivered"
    UNDELIVERABLE = "undeliverable"
    PERMANENTERROR = "permanenterror"


class StepStatus(StrEnum):
    """What one step of a core-API message did, as its status lists it (`fallbacks[]`,
    `extendedStatuses`)."""

    NOT_USED = "not_used"
    PROCESSING = "processing"
    DELIVERED = "delivered"
    UNDELIVERABLE = "undeliverable"


# A provider's permanent rejection of the message itself, not of one channel's reach: the
# number cannot exist or be routed, the sender is barred, the content is refused. A
# message that ends undeliverable for one of these is `permanenterror` (SPEC D5).
PERMANENT_REASONS = frozenset(
    {
        Reason.INVALID_NUMBER,
        Reason.TEXT_TOO_LONG,
        "INVALID_DESTINATION",  # SMPP / Vonage: no such destination
        "UNROUTABLE",
        "PREMIUM_NUMBER",
        "UNSUPPORTED_COUNTRY",
        "UNENCODABLE",  # the text has characters the channel cannot encode
        "REJECTED",  # the provider refused the content or the sender
        "INVALID_PARAMS",
        "PUBLIC_ACCOUNT_BLOCKED",  # Viber Business: the sender is barred
        "PUBLIC_ACCOUNT_SUSPENDED",
    }
)

_BY_STATUS = {
    Status.SCHEDULED: DeliveryStatus.SCHEDULED,
    Status.PROCESSING: DeliveryStatus.PROCESSING,
    Status.DELIVERED: DeliveryStatus.DELIVERED,
    Status.READ: DeliveryStatus.DELIVERED,  # and `seen: true`
    Status.UNDELIVERABLE: DeliveryStatus.UNDELIVERABLE,
    Status.EXPIRED: DeliveryStatus.UNDELIVERABLE,  # reason EXPIRED
    Status.CANCELLED: DeliveryStatus.UNDELIVERABLE,  # reason CANCELLED
}

_STEP_BY_ATTEMPT = {
    AttemptStatus.SENDING: StepStatus.PROCESSING,
    AttemptStatus.RETRYING: StepStatus.PROCESSING,
    AttemptStatus.PAUSED: StepStatus.PROCESSING,
    AttemptStatus.SENT: StepStatus.PROCESSING,
    AttemptStatus.DELIVERED: StepStatus.DELIVERED,
    AttemptStatus.READ: StepStatus.DELIVERED,
    AttemptStatus.UNREACHABLE: StepStatus.UNDELIVERABLE,
    AttemptStatus.FAILED: StepStatus.UNDELIVERABLE,
    AttemptStatus.SKIPPED: StepStatus.NOT_USED,
    AttemptStatus.TIMEOUT: StepStatus.UNDELIVERABLE,
    AttemptStatus.UNKNOWN: StepStatus.UNDELIVERABLE,
}


def delivery_status(status: str, reason: str | None) -> DeliveryStatus:
    """A message's `deliverystatus` from its Cascade status and reason."""
    mapped = _BY_STATUS[Status(status)]
    if mapped is DeliveryStatus.UNDELIVERABLE and reason in PERMANENT_REASONS:
        return DeliveryStatus.PERMANENTERROR
    return mapped


def finer_reason(status: str, reason: str | None) -> str | None:
    """The `reason` beside `deliverystatus`: Cascade's own, or what the status says that
    the five values cannot (an expired or cancelled message)."""
    if reason is not None:
        return reason
    if status == Status.EXPIRED:
        return "EXPIRED"
    if status == Status.CANCELLED:
        return "CANCELLED"
    return None


def step_status(attempt_status: str | None) -> StepStatus:
    """One step's status from its attempt's (None: the step was never taken)."""
    if attempt_status is None:
        return StepStatus.NOT_USED
    return _STEP_BY_ATTEMPT[AttemptStatus(attempt_status)]


def iso(ms: int | None) -> str | None:
    """Epoch milliseconds as ISO 8601 UTC with milliseconds (`2026-01-01T00:00:00.000Z`)."""
    if ms is None:
        return None
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def owes_event(surface: str, before: str, status: str, reason: str | None) -> bool:
    """Whether a message's change from `before` to `status` owes its status webhooks an
    event: every change for Cascade; a change of `deliverystatus` for the core API (SPEC
    D7: `read` after `delivered` is none)."""
    if surface == Surface.BAT:
        return delivery_status(status, reason) is not delivery_status(before, None)
    return before != status


def status_event(
    surface: str,
    *,
    message_id: str,
    tracking_id: str,
    status: str,
    channel: str | None,
    reason: str | None,
    seq: int,
    at_ms: int,
) -> dict[str, object]:
    """A status webhook's body, in the message's surface's shape.

    Cascade (SPEC C): `{messageId, trackinId, status, channel, reason, seq, at}`.
    Core API (SPEC D7): `{messageId, customerMessageId, deliverystatus, timestamp, cost}`;
    `customerMessageId` is null when the client gave none (the messageId stood in for it);
    `cost` is stored null: the store prices nothing, and the webhook dispatcher fills it
    in as the body leaves (`cascade.engine.webhook_cost`, SPEC D9).
    """
    if surface == Surface.BAT:
        return {
            "messageId": message_id,
            "customerMessageId": tracking_id if tracking_id != message_id else None,
            "deliverystatus": delivery_status(status, reason).value,
            "timestamp": iso(at_ms),
            "cost": None,
        }
    return {
        "messageId": message_id,
        "trackinId": tracking_id,
        "status": status,
        "channel": channel,
        "reason": reason,
        "seq": seq,
        "at": at_ms,
    }
