"""The Viber OTP templates Cascade knows (SPEC D3 `viber_otp`), as data.

Viber Business sends a one-time code only as a message of a template Viber registered:
the sender names the template by its id and fills its parameters. A `viber_otp` message
whose `templateId` is not one of these, whose `templateLang` the template has no text in,
or that lacks a parameter the template needs, is refused at intake (1006), never sent to
fail at the provider. To offer another template, add it here: its id, languages, and the
parameters its text shows.

The parameters (D3): `pin` (the code), `business_platform_name` (who asks), and as the
template needs, `code_validity_time` (minutes), `pin_type`, `code_reason`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

PIN = "pin"
PLATFORM = "business_platform_name"
VALIDITY = "code_validity_time"
PIN_TYPE = "pin_type"
REASON = "code_reason"

PARAMETERS = frozenset({PIN, PLATFORM, VALIDITY, PIN_TYPE, REASON})
LANGUAGES = ("en", "uk", "ru", "pl", "de", "es", "fr", "it", "pt", "tr")
MAX_PIN = 10  # characters of a code


@dataclass(frozen=True, slots=True)
class OtpTemplate:
    id: str
    name: str
    required: frozenset[str]
    optional: frozenset[str] = frozenset()
    languages: tuple[str, ...] = LANGUAGES


OTP_TEMPLATES: Mapping[str, OtpTemplate] = {
    t.id: t
    for t in (
        # "Your {business_platform_name} code is {pin}."
        OtpTemplate(
            "c8a0b4e2-3d1f-4a5b-9c6d-7e8f90a1b2c3",
            "code",
            frozenset({PIN, PLATFORM}),
            frozenset({PIN_TYPE}),
        ),
        # "… {pin}. It is valid for {code_validity_time} minutes."
        OtpTemplate(
            "1f2e3d4c-5b6a-4789-8a9b-0c1d2e3f4a5b",
            "code_with_validity",
            frozenset({PIN, PLATFORM, VALIDITY}),
            frozenset({PIN_TYPE}),
        ),
        # "… {pin} to {code_reason}. It is valid for {code_validity_time} minutes."
        OtpTemplate(
            "9e8d7c6b-5a49-4382-b716-a5f4e3d2c1b0",
            "code_with_reason",
            frozenset({PIN, PLATFORM, VALIDITY, REASON}),
            frozenset({PIN_TYPE}),
        ),
    )
}
