"""The Viber Business Messages channel, through the Vonage Messages API (`viber_service`).

Recipients are addressed by phone number; nobody has to subscribe first, but the phone
must have Viber (else Vonage reports error 1300 and the step is skipped). Delivery is
confirmed by the `delivered` status webhook, reading by `read`; both arrive signed with
a JWT. See README.md in this package for the provider facts and where they come from.
"""

from cascade.channels.viber_business.client import (
    DEFAULT_BASE_URL,
    LIMITS,
    MAX_TEXT,
    MAX_TTL_S,
    MIN_TTL_S,
    ViberBusinessChannel,
    build_message,
    category_for,
)
from cascade.channels.viber_business.codes import code_from, outcome_for_code, reason_for
from cascade.channels.viber_business.webhook import (
    WEBHOOK_ROUTE,
    InvalidToken,
    handle_webhook,
    payload_hash,
    verify_token,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "LIMITS",
    "MAX_TEXT",
    "MAX_TTL_S",
    "MIN_TTL_S",
    "WEBHOOK_ROUTE",
    "InvalidToken",
    "ViberBusinessChannel",
    "build_message",
    "category_for",
    "code_from",
    "handle_webhook",
    "outcome_for_code",
    "payload_hash",
    "reason_for",
    "verify_token",
]
