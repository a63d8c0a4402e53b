"""How the simulators tell a phone number: E.164, as the providers document it.

Twilio ("[+][country code][subscriber number including area code]", at most fifteen
digits), RBM ("the phone number in E.164 format") and Viber's business APIs take numbers
in ITU-T E.164 form: a "+", a country code (which never starts with 0), then the
subscriber's number, fifteen digits at most in all. None of them names a shortest
number, and neither does this rule. It is the simulators' own, not the product's intake
rule: a product that sends what the providers would refuse must see it refused here.
"""

from __future__ import annotations

import re
from typing import Final

_E164: Final = re.compile(r"\+[1-9][0-9]{1,14}")
_NOT_DIGITS: Final = re.compile(r"[^0-9]")


def is_e164(phone: str) -> bool:
    """Whether `phone` is a number in E.164 form (ASCII digits only)."""
    return _E164.fullmatch(phone) is not None


def normal_phone(raw: str) -> str:
    """A phone written any way (`380 50 123`, `+380-50-123`) as "+" and its digits: how
    the admin endpoints that take any form (the SMSC's, Telegram's) name a phone."""
    return "+" + _NOT_DIGITS.sub("", raw)
