"""Flash-call codes: made, carried in the caller number, shown masked, checked.

A flash call carries its code in the caller id: the recipient's phone rings from a
number whose last `code_length` digits are the code, and the call ends unanswered. The
installation owns a block of caller numbers — a prefix followed by every combination of
`code_length` digits — so any code can be sent by calling from `prefix + code`.

A message may name its own caller number instead (the core API's `callerId`): the call
comes from that number, and its last `code_length` digits are the code.

Everything here is pure: no I/O, no clock. The code is random per message (`secrets`),
compared in constant time. What the status shows is the caller number and its pattern:
for a drawn code the last six digits behind stars; for a caller the message named, the
code's digits alone behind stars (`***4567`), as the core API's `pattern`.
"""

from __future__ import annotations

import re
import secrets
from typing import Final

from cascade.domain.delivery import (
    MAX_CODE_LENGTH,
    MIN_CODE_LENGTH,
    call_pattern,
    call_pattern_in,
)

# E.164: "+", a country code that does not start with 0, 8-15 digits in all.
_PREFIX = re.compile(r"\+[1-9][0-9]*")
_E164_MIN_DIGITS: Final = 8
_E164_MAX_DIGITS: Final = 15


def check_length(code_length: int) -> int:
    if not MIN_CODE_LENGTH <= code_length <= MAX_CODE_LENGTH:
        raise ValueError(f"code length must be {MIN_CODE_LENGTH}-{MAX_CODE_LENGTH} digits")
    return code_length


def check_prefix(prefix: str, code_length: int) -> str:
    """The caller prefix, if prefix + code is an E.164 number; else ValueError."""
    check_length(code_length)
    if not _PREFIX.fullmatch(prefix):
        raise ValueError("the caller prefix must be '+' and digits, country code first")
    digits = len(prefix) - 1 + code_length
    if not _E164_MIN_DIGITS <= digits <= _E164_MAX_DIGITS:
        raise ValueError(
            f"prefix + code must have {_E164_MIN_DIGITS}-{_E164_MAX_DIGITS} digits, not {digits}"
        )
    return prefix


def new_code(length: int) -> str:
    """A uniformly random code of `length` decimal digits (leading zeros included)."""
    check_length(length)
    return f"{secrets.randbelow(10**length):0{length}d}"


def caller_for(prefix: str, code: str) -> str:
    """The caller number that carries `code`: the block's prefix followed by the code."""
    if not code.isascii() or not code.isdigit():
        raise ValueError("a code is decimal digits")
    return check_prefix(prefix, len(code)) + code


def code_of(caller: str, code_length: int) -> str:
    """The code a caller number carries: its last `code_length` digits."""
    check_length(code_length)
    code = caller[-code_length:]
    if len(caller) <= code_length or not code.isascii() or not code.isdigit():
        raise ValueError("the caller number does not end in a code")
    return code


PATTERN_DIGITS = 6


def pattern(caller: str, code_length: int) -> str:
    """What the status shows of a call: the caller number and its pattern, the last six
    digits behind stars — `+380441234567 (***234567)`, as SPEC's example `***456789`.

    The code is the caller's last `code_length` digits, so the status gives it away to
    whoever reads it: the account that sent the message, which may verify the code itself
    or leave that to `POST /api/CascadeMessage/verify`.
    """
    code_of(caller, code_length)  # validates
    return f"{caller} ({call_pattern(caller, PATTERN_DIGITS)})"


def given_caller(caller_id: str, code_length: int) -> tuple[str, str]:
    """A caller number the message names (the core API's `callerId`): (the number, the code
    it carries — its last `code_length` digits); ValueError unless it is E.164 ending in
    a code."""
    code = code_of(caller_id, code_length)
    return caller_for(caller_id[: -len(code)], code), code


def masked(code: str) -> str:
    """A call's pattern with every digit but the code's masked: `***4567` (the rule is the
    domain's, `call_pattern`, so the core API can show it before the call is placed)."""
    return call_pattern(code, len(code))


# the pattern a call's status detail carries, for the core API's `pattern` (the domain's rule)
pattern_in = call_pattern_in
