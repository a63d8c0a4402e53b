"""Phone numbers: E.164 syntax at intake, numbering-plan validity later (SPEC A3, A4)."""

from __future__ import annotations

import re

import phonenumbers
import pytest

from cascade.domain.phone import (
    _from_e164,
    _NationalPrefix,
    _parse_may_rewrite,
    is_e164,
    numbering_plan_allows,
)


def other_digits(zero: int, ascii_digits: str) -> str:
    """The same digits from another Unicode block (`zero` is that block's digit zero)."""
    return "".join(chr(zero + int(d)) for d in ascii_digits)


@pytest.mark.parametrize(
    "phone",
    [
        "+12345678",  # 8 digits in all: the minimum
        "+123456789012345",  # 15 digits: the maximum
        "+380501234567",
        "+380111111111",
        "+14155552671",
        "+447911123456",
        "+4915112345678",
        "+999999999999",
    ],
)
def test_e164_syntax_accepted(phone: str) -> None:
    assert is_e164(phone)


@pytest.mark.parametrize(
    "phone",
    [
        pytest.param("", id="empty"),
        pytest.param("+", id="plus only"),
        pytest.param("380501234567", id="no plus"),
        pytest.param("00380501234567", id="international 00 prefix"),
        pytest.param("+0380501234567", id="country code starts with 0"),
        pytest.param("+1234567", id="7 digits"),
        pytest.param("+1234567890123456", id="16 digits"),
        pytest.param("+38050123456a", id="letter"),
        pytest.param("+380 50 123 4567", id="spaces"),
        pytest.param("+380-50-123-4567", id="dashes"),
        pytest.param("+38(050)1234567", id="parentheses"),
        pytest.param("++380501234567", id="two plus signs"),
        pytest.param("+380501234567 ", id="trailing space"),
        pytest.param(" +380501234567", id="leading space"),
        pytest.param("+380501234567\n", id="trailing newline"),
        pytest.param("+" + other_digits(0xFF10, "380501234567"), id="fullwidth digits"),
        pytest.param("+" + other_digits(0x0660, "380501234567"), id="arabic-indic digits"),
        pytest.param("tel:+380501234567", id="tel uri"),
    ],
)
def test_e164_syntax_rejected(phone: str) -> None:
    assert not is_e164(phone)


@pytest.mark.parametrize(
    "phone",
    [
        "+380501234567",  # Ukraine, Vodafone mobile
        "+380671234567",  # Ukraine, Kyivstar mobile
        "+14155552671",  # US
        "+447911123456",  # UK mobile
        "+4915112345678",  # Germany mobile
    ],
)
def test_numbering_plan_allows_real_numbers(phone: str) -> None:
    assert numbering_plan_allows(phone)


@pytest.mark.parametrize(
    "phone",
    [
        "+380111111111",  # the provider's bulk example: E.164 syntax, no such Ukrainian range
        "+380000000000",
        "+99912345678",  # unassigned country code
        "+12345678",  # too short for country code 1
        "+123456789012345",  # too long for country code 1
    ],
)
def test_numbering_plan_refuses_impossible_numbers(phone: str) -> None:
    assert is_e164(phone)  # intake accepts them ...
    assert not numbering_plan_allows(phone)  # ... and delivery ends INVALID_NUMBER


@pytest.mark.parametrize("phone", ["", "+", "not a number", "380501234567", "+abc"])
def test_numbering_plan_on_garbage_is_false_not_an_error(phone: str) -> None:
    assert numbering_plan_allows(phone) is False


# --- the fast path for canonical E.164 input must answer exactly as parse + is_valid_number


def reference_allows(phone: str) -> bool:
    """The plain libphonenumber answer the fast path must reproduce."""
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_valid_number(parsed))


def assert_same_as_parse(phone: str) -> None:
    assert numbering_plan_allows(phone) == reference_allows(phone), phone
    built = _from_e164(phone)
    if built is not None:  # when the fast path answers, it is parse's very number
        parsed = phonenumbers.parse(phone, None)
        assert built == parsed, phone  # every field, leading zeros included


@pytest.mark.parametrize(
    "phone",
    [
        # Ukraine +380: national prefix 0
        pytest.param("+380671234567", id="UA mobile"),
        pytest.param("+380501234567", id="UA mobile 2"),
        pytest.param("+380441234567", id="UA Kyiv landline"),
        pytest.param("+3800671234567", id="UA national prefix after +380"),
        pytest.param("+380067123456", id="UA 0 after +380, short"),
        pytest.param("+380111111111", id="UA no such range"),
        pytest.param("+380000000000", id="UA all zeros"),
        pytest.param("+38067123456", id="UA one digit short"),
        pytest.param("+3806712345678", id="UA one digit long"),
        # NANPA +1: national prefix 1, many regions share the code
        pytest.param("+14155552671", id="US"),
        pytest.param("+12125551234", id="US New York"),
        pytest.param("+16135550123", id="CA Ottawa"),
        pytest.param("+16045551234", id="CA Vancouver"),
        pytest.param("+18005551234", id="NANPA toll free"),
        pytest.param("+11234567890", id="NANPA national prefix 1 after +1"),
        pytest.param("+19995551234", id="NANPA area code 999"),
        pytest.param("+1415555267", id="US one digit short"),
        pytest.param("+141555526712", id="US one digit long"),
        pytest.param("+12345678", id="+1 minimum length"),
        pytest.param("+123456789012345", id="+1 maximum length"),
        # UK +44 (GB, GG, IM, JE): national prefix 0 or 180020
        pytest.param("+447911123456", id="GB mobile"),
        pytest.param("+442079460123", id="GB London"),
        pytest.param("+4407911123456", id="GB 0 after +44 mobile"),
        pytest.param("+4402079460123", id="GB 0 after +44 London"),
        pytest.param("+4407911", id="GB 0 after +44 too short"),
        pytest.param("+44180020123456", id="GB 180020 prefix"),
        pytest.param("+4479111234567", id="GB mobile too long"),
        pytest.param("+441624123456", id="IM landline"),
        pytest.param("+447624123456", id="IM mobile"),
        pytest.param("+441481123456", id="GG landline"),
        # Germany +49: national prefix 0, variable lengths
        pytest.param("+4915112345678", id="DE mobile"),
        pytest.param("+493012345678", id="DE Berlin"),
        pytest.param("+49301234", id="DE Berlin short"),
        pytest.param("+49015112345678", id="DE 0 after +49 mobile"),
        pytest.param("+4903012345678", id="DE 0 after +49 Berlin"),
        pytest.param("+4915112345678901", id="DE too long"),
        # Italy +39: the leading zero of landlines is part of the number
        pytest.param("+390612345678", id="IT Rome landline"),
        pytest.param("+39061234567", id="IT Rome landline short"),
        pytest.param("+39066981234", id="IT Vatican range"),
        pytest.param("+3906698", id="IT very short"),
        pytest.param("+393123456789", id="IT mobile"),
        pytest.param("+39312345678", id="IT mobile short"),
        pytest.param("+39001234567", id="IT two leading zeros"),
        pytest.param("+390012345678", id="IT two leading zeros long"),
        pytest.param("+3900000000", id="IT all zeros"),
        # Russia and Kazakhstan +7: national prefix 8
        pytest.param("+79123456789", id="RU mobile"),
        pytest.param("+78001234567", id="RU toll free starts with 8"),
        pytest.param("+788001234567", id="RU 8 after +7"),
        pytest.param("+77012345678", id="KZ mobile"),
        pytest.param("+77172123456", id="KZ Astana"),
        pytest.param("+7701234567", id="KZ short"),
        pytest.param("+79123456", id="RU short"),
        # Argentina +54: a prefix pattern that can match empty, with a transform rule
        pytest.param("+5491123456789", id="AR mobile"),
        pytest.param("+541123456789", id="AR Buenos Aires"),
        pytest.param("+5401123456789", id="AR 0 after +54"),
        pytest.param("+54015912345678", id="AR 0 and 15 after +54"),
        pytest.param("+54911234567890", id="AR too long"),
        # Mexico +52: the old mobile 1
        pytest.param("+525512345678", id="MX"),
        pytest.param("+5215512345678", id="MX old mobile 1"),
        pytest.param("+52155123456789", id="MX 1 and too long"),
        pytest.param("+5201551234567", id="MX 0 after +52"),
        # Brazil +55, Japan +81, China +86, Australia +61: prefix patterns with groups
        pytest.param("+5511912345678", id="BR mobile"),
        pytest.param("+55011912345678", id="BR 0 after +55"),
        pytest.param("+819012345678", id="JP mobile"),
        pytest.param("+81090123456789", id="JP 0 after +81 too long"),
        pytest.param("+8613812345678", id="CN mobile"),
        pytest.param("+86013812345678", id="CN 0 after +86"),
        pytest.param("+61412345678", id="AU mobile"),
        pytest.param("+610412345678", id="AU 0 after +61"),
        # prefixes other than 0, 1 and 8
        pytest.param("+3614123456", id="HU"),
        pytest.param("+36061234567", id="HU 06 after +36"),
        pytest.param("+37080012345", id="LT 8 range"),
        pytest.param("+3758011234567", id="BY 80 after +375"),
        pytest.param("+33612345678", id="FR mobile"),
        pytest.param("+330612345678", id="FR 0 after +33"),
        pytest.param("+3725123456", id="EE no national prefix"),
        # non-geographic codes and codes no one has
        pytest.param("+80012345678", id="international freephone 800"),
        pytest.param("+979123456789", id="international premium 979"),
        pytest.param("+882123456789", id="international networks 882"),
        pytest.param("+99912345678", id="unassigned 999"),
        pytest.param("+999123456789", id="unassigned 999 long"),
        pytest.param("+89123456789", id="unassigned 89x"),
        pytest.param("+2901234567", id="SH too long"),
        # not canonical E.164: straight to parse
        pytest.param("+380 67 123 4567", id="spaces"),
        pytest.param("00380671234567", id="00 prefix"),
        pytest.param("+380671234567 ", id="trailing space"),
        pytest.param("+1234567890123456", id="16 digits"),
        pytest.param("tel:+380671234567", id="tel uri"),
        pytest.param("+380671234567;ext=12", id="extension"),
    ],
)
def test_numbering_plan_matches_libphonenumber(phone: str) -> None:
    assert_same_as_parse(phone)


@pytest.mark.parametrize(
    ("phone", "allowed"),
    [
        ("+380671234567", True),
        ("+3800671234567", True),  # parse drops the national prefix 0 after +380
        ("+4407911123456", True),  # ... and after +44
        ("+390612345678", True),  # the Italian leading zero stays in the number
        ("+5491123456789", True),
        ("+380111111111", False),
        ("+99912345678", False),
        ("+4915112345678901", False),
    ],
)
def test_numbering_plan_known_answers(phone: str, allowed: bool) -> None:
    assert numbering_plan_allows(phone) is allowed
    assert reference_allows(phone) is allowed


@pytest.mark.parametrize(
    "phone", ["+380671234567", "+14155552671", "+447911123456", "+390612345678", "+39001234567"]
)
def test_plain_e164_numbers_skip_parse(phone: str) -> None:
    built = _from_e164(phone)
    assert built is not None
    assert built == phonenumbers.parse(phone, None)


@pytest.mark.parametrize(
    "phone",
    [
        "+3800671234567",  # a national prefix parse may strip
        "+4407911123456",
        "+78001234567",  # a number that starts like RU's prefix 8
        "+99912345678",  # no such country code: parse raises
        "+380 67 123 4567",  # not canonical
    ],
)
def test_numbers_parse_could_rewrite_go_to_parse(phone: str) -> None:
    assert _from_e164(phone) is None


@pytest.mark.parametrize(
    ("pattern", "transforms", "national", "rewrites"),
    [
        (None, False, "671234567", False),
        ("0", False, "671234567", False),
        ("0", False, "0671234567", True),
        ("0?(15)?", False, "671234567", False),  # empty match, nothing to transform
        ("0?(15)?", True, "671234567", False),  # the transform needs its group
        ("0?(15)?", True, "15671234567", True),
        ("(9?)", True, "671234567", True),  # empty group that took part: transformed
    ],
)
def test_which_national_prefix_matches_go_to_parse(
    pattern: str | None, transforms: bool, national: str, rewrites: bool
) -> None:
    prefix = _NationalPrefix(
        pattern=None if pattern is None else re.compile(pattern), transforms=transforms
    )
    assert _parse_may_rewrite(prefix, national) is rewrites


def test_italian_leading_zeros_are_kept_as_parse_keeps_them() -> None:
    one = _from_e164("+390612345678")
    assert one is not None
    assert one.italian_leading_zero
    assert one.number_of_leading_zeros is None  # parse leaves the count unset when it is 1
    two = _from_e164("+39001234567")
    assert two is not None
    assert two.italian_leading_zero
    assert two.number_of_leading_zeros == 2
    assert phonenumbers.national_significant_number(two) == "001234567"


def example_numbers() -> list[str]:
    """libphonenumber's own example of every number type of every region, as E.164."""
    found: set[str] = set()
    for region in phonenumbers.SUPPORTED_REGIONS:
        for number_type in phonenumbers.PhoneNumberType.values():
            number = phonenumbers.example_number_for_type(region, number_type)
            if number is not None:
                found.add(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    for country_code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        number = phonenumbers.example_number_for_non_geo_entity(country_code)
        if number is not None:
            found.add(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return sorted(found)


def test_every_region_matches_libphonenumber() -> None:
    """Each example number, also with national-prefix-like digits after the country code,
    and one digit shorter or longer."""
    examples = example_numbers()
    assert len(examples) > 500
    cases: set[str] = set()
    for example in examples:
        country_code = str(phonenumbers.parse(example, None).country_code)
        national = example[1 + len(country_code) :]
        cases.update((example, example[:-1], example + "5"))
        for inserted in ("0", "00", "1", "8", "06", "80", "9", "15", "183", "1001"):
            cases.add("+" + country_code + inserted + national)
    checked = fast = 0
    for phone in sorted(cases):
        assert_same_as_parse(phone)
        checked += 1
        fast += _from_e164(phone) is not None
    assert fast > checked // 2  # the comparison covers the fast path, not only parse
