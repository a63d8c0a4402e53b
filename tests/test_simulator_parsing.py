"""What the simulators parse on their own: RBM's timestamps and the providers' E.164.

Neither comes from the product (see src/cascade/simulators/README.md), so each is held
here to the specification it was written from.
"""

from __future__ import annotations

import datetime as dt

import pytest

from cascade.simulators.phones import is_e164, normal_phone
from cascade.simulators.rcs.timestamps import format_ms, parse_ms


def ms(year: int, month: int, day: int, hour: int, minute: int, second: int) -> int:
    """Epoch milliseconds of a UTC time."""
    moment = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
    return int(moment.timestamp()) * 1000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2030-01-02T03:04:05Z", ms(2030, 1, 2, 3, 4, 5)),
        ("2030-01-02t03:04:05z", ms(2030, 1, 2, 3, 4, 5)),  # RFC 3339 §5.6: either case
        ("2030-01-02T03:04:05.5Z", ms(2030, 1, 2, 3, 4, 5) + 500),
        ("2030-01-02T03:04:05.045Z", ms(2030, 1, 2, 3, 4, 5) + 45),
        ("2030-01-02T03:04:05.045123456Z", ms(2030, 1, 2, 3, 4, 5) + 45),  # nanoseconds
        ("2030-01-02T05:34:05+02:30", ms(2030, 1, 2, 3, 4, 5)),
        ("2030-01-01T22:04:05-05:00", ms(2030, 1, 2, 3, 4, 5)),
        ("2028-02-29T00:00:00Z", ms(2028, 2, 29, 0, 0, 0)),
        ("1970-01-01T00:00:00Z", 0),
    ],
)
def test_rbm_timestamps_are_rfc_3339(text: str, expected: int) -> None:
    assert parse_ms(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2030-01-02T03:04:05",  # no offset: no RFC 3339 timestamp, whatever zone was meant
        "2030-01-02T03:04:05.123",
        "2030-01-02 03:04:05Z",  # RBM's JSON has the "T"
        "2030-01-02T03:04Z",
        "20300102T030405Z",
        "2030-01-02T03:04:05.1234567890Z",  # ten fractional digits
        "2030-01-02T03:04:05+0200",
        "2030-01-02T03:04:05+24:00",
        "2030-02-30T03:04:05Z",
        "2029-02-29T00:00:00Z",
        "2030-01-02T24:00:00Z",
        "2030-12-31T23:59:60Z",  # a protobuf Timestamp has no leap second
        " 2030-01-02T03:04:05Z",
        "2030-01-02T03:04:05Z\n",
        "\uff12\uff10\uff13\uff10-01-02T03:04:05Z",  # fullwidth digits
        "tomorrow",
        "",
    ],
)
def test_what_is_no_rfc_3339_timestamp_is_refused(text: str) -> None:
    assert parse_ms(text) is None


def test_rbm_writes_utc_with_milliseconds() -> None:
    at = ms(2030, 1, 2, 3, 4, 5) + 7
    assert format_ms(at) == "2030-01-02T03:04:05.007Z"
    assert parse_ms(format_ms(at)) == at


@pytest.mark.parametrize(
    "phone", ["+380501234567", "+12025550123", "+442079460000", "+123456789012345", "+12"]
)
def test_e164_numbers(phone: str) -> None:
    assert is_e164(phone)


@pytest.mark.parametrize(
    "phone",
    [
        "380501234567",  # no "+"
        "+0380501234567",  # no country code starts with 0
        "+1234567890123456",  # sixteen digits
        "+1",
        "+",
        "+38050 1234567",
        "+380501234567\n",
        "+३८०५०१२३४५६७",  # digits, but not ASCII ones
        "",
    ],
)
def test_what_is_no_e164_number(phone: str) -> None:
    assert not is_e164(phone)


def test_a_phone_written_any_way_is_plus_and_digits() -> None:
    assert normal_phone("380 50 123-45-67") == "+380501234567"
    assert normal_phone("+380501234567") == "+380501234567"
