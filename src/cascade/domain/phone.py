"""Phone numbers: the E.164 syntax the API enforces, and the numbering-plan check.

Syntax is checked at intake (cheap, a regular expression). Whether the numbering plan
says the number can exist is a separate, slower question (libphonenumber metadata): such
numbers are accepted and later end `undeliverable` with reason INVALID_NUMBER.
"""

from __future__ import annotations

import re

import phonenumbers

# "+", a country code that does not start with 0, 8-15 digits in all.
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")


def is_e164(phone: str) -> bool:
    return _E164.fullmatch(phone) is not None


def numbering_plan_allows(phone: str) -> bool:
    """True when libphonenumber's metadata says this E.164 number can exist."""
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_valid_number(parsed))
