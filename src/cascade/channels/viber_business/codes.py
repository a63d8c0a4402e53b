"""Vonage Messages API error codes, and what each one means for a cascade step.

The same numeric codes come back two ways: synchronously, in the RFC 7807 body of a
rejected `POST /v1/messages` (the code is the fragment of `type`, e.g.
`https://developer.vonage.com/api-errors/messages#1150`), and asynchronously, in the
`error` object of a `rejected`/`undeliverable` status webhook (the code is `title`).
`_CODES` below is the provider's table (https://developer.vonage.com/en/api-errors/messages)
as data, each code mapped to what the engine should do and the reason the attempt records.
"""

from __future__ import annotations

from typing import Final, Literal

from cascade.domain.sending import Failed, Misconfigured, Outcome, Retry, Throttled, Unreachable

Kind = Literal["unreachable", "blocked", "throttled", "misconfigured", "retry", "failed"]

# Vonage names no wait for a throttled answer; one second lets the engine's pause back off.
THROTTLE_PAUSE_S: Final = 1.0

# code -> (what it means for the step, the attempt's reason)
_CODES: Final[dict[int, tuple[Kind, str]]] = {
    1000: ("throttled", "THROTTLED"),
    1010: ("failed", "MISSING_PARAMS"),
    1020: ("failed", "INVALID_PARAMS"),
    1021: ("failed", "INVALID_TAG"),
    1022: ("failed", "INVALID_TEMPLATE"),
    1030: ("retry", "INTERNAL_ERROR"),
    1040: ("failed", "INVALID_MESSAGE"),
    1050: ("unreachable", "NUMBER_BARRED"),
    1060: ("misconfigured", "ACCOUNT_BARRED"),
    1070: ("misconfigured", "QUOTA_EXCEEDED"),
    1080: ("misconfigured", "ACCOUNT_NOT_ENABLED_FOR_REST"),
    1090: ("failed", "MESSAGE_TOO_LONG"),
    1100: ("retry", "COMMUNICATION_FAILED"),
    1120: ("misconfigured", "ILLEGAL_SENDER"),
    1130: ("failed", "INVALID_TTL"),
    1140: ("misconfigured", "FACILITY_NOT_ALLOWED"),
    # The live API answers "Invalid params" under this code (the table calls it
    # "Invalid Message class", an SMS-only field).
    1150: ("failed", "INVALID_PARAMS"),
    1160: ("misconfigured", "DESTINATION_NOT_WHITELISTED"),
    1170: ("unreachable", "INVALID_NUMBER"),
    1180: ("unreachable", "ABSENT_SUBSCRIBER"),
    1190: ("unreachable", "ABSENT_SUBSCRIBER_PERMANENT"),
    1210: ("failed", "ANTI_SPAM_REJECTION"),
    1230: ("retry", "NETWORK_ERROR"),
    # "the user has already sent a STOP opt-out message and no longer wishes to receive
    # messages from you": Vonage's code for a recipient who blocked the sender.
    1240: ("blocked", "BLOCKED"),
    1241: ("throttled", "TOO_MANY_SEND_REQUESTS"),
    1250: ("failed", "UNROUTABLE"),
    1251: ("failed", "UNROUTABLE"),
    # "If using Viber Business Messages your account might not be enabled for this country."
    1260: ("unreachable", "DESTINATION_UNREACHABLE"),
    1280: ("unreachable", "BLOCKED_BY_CARRIER"),
    1282: ("failed", "BLOCKED_BY_PROVIDER"),
    1300: ("unreachable", "NOT_VIBER_USER"),  # "not a user in the provider network"
    1310: ("unreachable", "NO_SUITABLE_DEVICE"),  # "the user's device can't receive the message"
    1320: ("failed", "ALREADY_SENT"),
    1330: ("failed", "UNKNOWN"),
    1331: ("retry", "PROVIDER_ERROR"),
    1340: ("failed", "OUTSIDE_ALLOWED_WINDOW"),
    1360: ("failed", "EXPIRED"),  # "TTL was activated, or message expired before delivered"
    1380: ("failed", "INVALID_RESOURCE"),
    1381: ("failed", "RESOURCE_TOO_LARGE"),
    1382: ("failed", "INVALID_RESOURCE_TYPE"),
    1400: ("misconfigured", "UNSUPPORTED_CHANNEL"),
    1410: ("failed", "INVALID_CHANNEL_PARAMETERS"),
    1420: ("misconfigured", "INVALID_SENDER"),
    1430: ("unreachable", "INVALID_RECIPIENT"),
    1440: ("failed", "INVALID_MESSAGE_TYPE"),
    1450: ("failed", "INVALID_CLIENT_REFERENCE"),
    1460: ("misconfigured", "DAILY_LIMIT_EXCEEDED"),
    1470: ("failed", "FRAUD_DEFENDER_RULE"),
}

# The codes the simulator and the tests name.
NOT_VIBER_USER: Final = 1300
NO_SUITABLE_DEVICE: Final = 1310
USER_BLOCKED: Final = 1240
UNKNOWN: Final = 1330


def kind_and_reason(code: int) -> tuple[Kind, str]:
    """The table's row for `code`; a code Vonage adds later fails the step, named."""
    return _CODES.get(code, ("failed", f"VONAGE_{code}"))


def reason_for(code: int) -> str:
    return kind_and_reason(code)[1]


def outcome_for_code(code: int, retry_after_s: float = THROTTLE_PAUSE_S) -> Outcome:
    """What a send rejected with Vonage error `code` means for the cascade step."""
    kind, reason = kind_and_reason(code)
    if kind == "unreachable":
        return Unreachable(reason)
    if kind == "blocked":
        return Unreachable(reason, blocked=True)
    if kind == "throttled":
        return Throttled(retry_after_s=retry_after_s, reason=reason)
    if kind == "misconfigured":
        return Misconfigured(reason)
    if kind == "retry":
        return Retry(reason)
    return Failed(reason)


def code_from(type_uri: str | None, title: object) -> int | None:
    """The numeric code of an RFC 7807 error: `type`'s fragment, else a numeric `title`."""
    fragment = (type_uri or "").rpartition("#")[2]
    for candidate in (fragment, title):
        if isinstance(candidate, int) and not isinstance(candidate, bool):
            return candidate
        if isinstance(candidate, str) and candidate.strip().isdigit():
            return int(candidate.strip())
    return None


KNOWN_CODES: Final = frozenset(_CODES)
