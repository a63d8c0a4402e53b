"""The delivery rules the engine applies (SPEC B2), as pure functions of time and state.

Attempt statuses: `sending` (committed before the request leaves: an intent), `sent`
(the provider took it; waiting for its report), `delivered`, `read`, `unreachable`,
`failed`, `skipped` (the channel is off or cannot carry the content), `timeout` (no report
within the window), `unknown` (the send may or may not have reached the provider — a
worker died mid-send, or no answer came back: it is never repeated, and the message ends
`undeliverable` with reason IN_DOUBT, so nothing is ever delivered twice).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum

from cascade.domain.message import Status

FINAL = frozenset(
    {Status.DELIVERED, Status.READ, Status.UNDELIVERABLE, Status.EXPIRED, Status.CANCELLED}
)

# Transient failures: retried with exponential backoff, then the step is given up.
RETRY_BASE_MS = 1_000
RETRY_CAP_MS = 60_000
MAX_TRIES = 5


VERIFY_ATTEMPTS = 3  # wrong flash-call codes allowed before the code is void
MIN_CODE_LENGTH = 4  # a flash-call code's digits (the caller number's last ones)
MAX_CODE_LENGTH = 6
CODE_PATTERN = rf"^[0-9]{{{MIN_CODE_LENGTH},{MAX_CODE_LENGTH}}}$"  # as the API documents it
CALL_MASK = "*"  # what stands for a caller number's digits that are not shown


def call_pattern(caller: str, shown_digits: int) -> str:
    """A flash call's masked pattern: the caller number's last `shown_digits` digits
    behind stars (`***4567`). For a call from a caller id the message named (the core
    API's `callerId`), those digits are the code, and this is the core API's `pattern`."""
    return CALL_MASK * 3 + caller[-shown_digits:]


def call_pattern_in(detail: str) -> str | None:
    """The pattern a flash call's status detail carries (`+380441234567 (***4567)` ->
    `***4567`); None when `detail` is no call's."""
    number, _, rest = detail.partition(" (")
    shown = rest.removesuffix(")")
    if not rest.endswith(")") or not shown.startswith(CALL_MASK * 3) or not number.startswith("+"):
        return None
    return shown


class Verdict(StrEnum):
    """What checking a flash-call code came to."""

    OK = "OK"
    WRONG = "WRONG"  # this attempt was wrong and used one up; more are left
    EXHAUSTED = "EXHAUSTED"  # none are left (now or before): not even the right code counts
    EXPIRED = "EXPIRED"  # the code outlived its message's TTL
    UNKNOWN = "UNKNOWN"  # no code was sent for this message (or not by this account)


def is_code(value: str) -> bool:
    """A flash-call code as a client may send it: 4-6 ASCII digits."""
    return MIN_CODE_LENGTH <= len(value) <= MAX_CODE_LENGTH and value.isascii() and value.isdigit()


def code_hash(message_id: str, code: str) -> str:
    """How a flash-call code is kept: keyed by its message, never in clear."""
    return hmac.new(message_id.encode(), code.encode(), hashlib.sha256).hexdigest()


def is_final(status: str) -> bool:
    return status in FINAL


def retry_delay_ms(tries: int) -> int:
    """Delay before transient try number `tries` (1-based): 1 s, 2 s, 4 s … capped."""
    return min(RETRY_CAP_MS, RETRY_BASE_MS << max(0, tries - 1))


def window_end_ms(now_ms: int, window_s: int, expires_at_ms: int) -> int:
    """When to stop waiting for a confirmation: the channel's window, never past the TTL."""
    return min(now_ms + window_s * 1000, expires_at_ms)


def remaining_ttl_s(now_ms: int, expires_at_ms: int) -> int:
    return max(0, (expires_at_ms - now_ms) // 1000)


@dataclass(frozen=True, slots=True)
class Finish:
    status: Status
    channel: str | None
    reason: str | None
