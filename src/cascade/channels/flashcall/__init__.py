"""The flash-call channel: Twilio Programmable Voice calls whose caller id is the code.

The recipient's phone rings from `prefix + code` and the call ends unanswered; the
recipient (or an app reading the call log) types the last digits back, and the API
checks them (`POST /api/CascadeMessage/verify`). See README.md for the provider's facts.
"""

from cascade.channels.flashcall.client import (
    DEFAULT_BASE_URL,
    LIMITS,
    TWIML,
    FlashCallChannel,
    outcome_for_error,
)
from cascade.channels.flashcall.codes import (
    caller_for,
    code_of,
    given_caller,
    masked,
    new_code,
    pattern,
    pattern_in,
)
from cascade.channels.flashcall.webhook import (
    SIGNATURE_HEADER,
    WEBHOOK_ROUTE,
    WEBHOOK_URL_HEADER,
    events_for,
    handle_webhook,
    signature,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "LIMITS",
    "SIGNATURE_HEADER",
    "TWIML",
    "WEBHOOK_ROUTE",
    "WEBHOOK_URL_HEADER",
    "FlashCallChannel",
    "caller_for",
    "code_of",
    "events_for",
    "given_caller",
    "handle_webhook",
    "masked",
    "new_code",
    "outcome_for_error",
    "pattern",
    "pattern_in",
    "signature",
]
