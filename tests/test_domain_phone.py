"""Phone numbers: E.164 syntax at intake, numbering-plan validity later (SPEC A3, A4)."""

from __future__ import annotations

import pytest

from cascade.domain.phone import is_e164, numbering_plan_allows


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
