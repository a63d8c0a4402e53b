"""Phone numbers: the E.164 syntax the API enforces, and the numbering-plan check.

Syntax is checked at intake (cheap, a regular expression). Whether the numbering plan
says the number can exist is a separate, slower question (libphonenumber metadata): such
numbers are accepted and later end `undeliverable` with reason INVALID_NUMBER.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

import phonenumbers

# "+", a country code that does not start with 0, 8-15 digits in all (the OpenAPI
# document states the same pattern).
E164_PATTERN = r"\+[1-9][0-9]{7,14}"
_E164 = re.compile(E164_PATTERN)

# libphonenumber's longest country calling code.
_MAX_COUNTRY_CODE_DIGITS = 3

# is_valid_number recompiles each metadata pattern it tries; by default that is the re
# module's bounded cache, which traffic to many countries can outgrow. Keep them all (the
# metadata is fixed, so the set is bounded). Same patterns, same answers; process-wide.
phonenumbers.enable_pattern_cache()


def is_e164(phone: str) -> bool:
    return _E164.fullmatch(phone) is not None


def numbering_plan_allows(phone: str) -> bool:
    """True when libphonenumber's metadata says this E.164 number can exist.

    The answer is exactly `is_valid_number(parse(phone, None))`, False when parsing fails;
    canonical E.164 input usually skips `parse` (see `_from_e164`), the slow part.
    """
    parsed = _from_e164(phone)
    if parsed is None:
        try:
            parsed = phonenumbers.parse(phone, None)
        except phonenumbers.NumberParseException:
            return False
    return bool(phonenumbers.is_valid_number(parsed))


class _NationalPrefix(NamedTuple):
    """What `parse` may strip from the national part of a number for one country code."""

    pattern: re.Pattern[str] | None  # the metadata's national_prefix_for_parsing
    transforms: bool  # the metadata has a national_prefix_transform_rule


# Per country calling code (a few hundred at most), on first use: the metadata loads
# lazily, region by region, and most codes are never seen.
@functools.cache
def _national_prefix(country_code: int) -> _NationalPrefix:
    # The metadata `parse` itself picks once it has the country code.
    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    assert metadata is not None, country_code  # every known code has some: parse asserts it
    for_parsing = metadata.national_prefix_for_parsing
    return _NationalPrefix(
        pattern=re.compile(for_parsing) if for_parsing else None,
        transforms=bool(metadata.national_prefix_transform_rule),
    )


def _parse_may_rewrite(prefix: _NationalPrefix, national: str) -> bool:
    """Whether `parse` might strip or transform the start of this national part.

    `parse` tries the national-prefix pattern even after "+country code" and keeps the
    shortened (or transformed) number when it still looks viable. Any match that is not a
    no-op is left to `parse`; only an empty match without a transform changes nothing.
    """
    if prefix.pattern is None:
        return False
    match = prefix.pattern.match(national)
    if match is None:
        return False
    if match.end() > 0:
        return True
    if not prefix.transforms:
        return False
    # parse applies the transform rule when the pattern's last group took part.
    last_group = prefix.pattern.groups
    return last_group == 0 or match.group(last_group) is not None


def _from_e164(phone: str) -> phonenumbers.PhoneNumber | None:
    """The number `phonenumbers.parse(phone, None)` returns, built without it, or None.

    None means "ask parse": the input is not canonical E.164, its country code is unknown
    (parse raises), or parse could rewrite the national part (a national prefix). For plain
    "+digits" input, parse's remaining steps (extension, RFC 3966, punctuation, IDD) are
    no-ops, so the result is the country code found as libphonenumber finds it (the
    shortest leading 1-3 digits that are a known code) and the rest as national number.
    """
    if not is_e164(phone):
        return None
    digits = phone[1:]  # at least 8 digits, the first not 0
    for size in range(1, _MAX_COUNTRY_CODE_DIGITS + 1):
        country_code = int(digits[:size])
        if country_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    national = digits[size:]  # at least 5 digits
    prefix = _national_prefix(country_code)
    if _parse_may_rewrite(prefix, national):
        return None
    if national[0] != "0":
        return phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))
    # Leading zeros are part of the number (Italy), kept as parse keeps them: all the
    # zeros but the last digit, and a count only when it is not 1.
    zeros = min(len(national) - len(national.lstrip("0")), len(national) - 1)
    return phonenumbers.PhoneNumber(
        country_code=country_code,
        national_number=int(national),
        italian_leading_zero=True,
        number_of_leading_zeros=zeros if zeros != 1 else None,
    )
