"""Prices (SPEC D9): the longest country prefix wins, SMS is priced per part, money is
exact, and a price file is checked row by row with every bad row reported."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cascade.domain.prices import (
    HEADER,
    Cost,
    Price,
    PriceFileError,
    PriceTable,
    cost,
    format_price,
    parse_prices,
    to_csv,
    total_cost,
)

CHANNELS = ("sms", "viber_business", "rcs", "flashcall")


def table(*rows: tuple[str, str, str]) -> PriceTable:
    return PriceTable(Price(c, p, Decimal(v), "EUR") for c, p, v in rows)


def problems(text: str) -> list[tuple[int, str]]:
    with pytest.raises(PriceFileError) as caught:
        parse_prices(text, CHANNELS)
    return [(p.line, p.reason) for p in caught.value.problems]


# --- the longest prefix, per part ---------------------------------------------------------


def test_the_longest_listed_prefix_of_the_number_wins() -> None:
    prices = table(("sms", "3", "0.05"), ("sms", "380", "0.03"), ("sms", "38050", "0.02"))
    assert cost(prices, "sms", "+380501234567", None) == Cost(Decimal("0.02"), "EUR")
    assert cost(prices, "sms", "+380671234567", None) == Cost(Decimal("0.03"), "EUR")
    assert cost(prices, "sms", "+359881234567", None) == Cost(Decimal("0.05"), "EUR")
    assert cost(prices, "sms", "+14155552671", None) is None


def test_a_price_is_per_channel() -> None:
    prices = table(("sms", "380", "0.03"), ("rcs", "38050", "0.01"))
    assert cost(prices, "sms", "+380501234567", None) == Cost(Decimal("0.03"), "EUR")
    assert cost(prices, "rcs", "+380501234567", None) == Cost(Decimal("0.01"), "EUR")
    assert cost(prices, "viber_business", "+380501234567", None) is None


def test_sms_parts_multiply_the_price_exactly() -> None:
    prices = table(("sms", "380", "0.1"))
    # 0.1 * 3 is 0.30000000000000004 in floats; money is exact
    assert cost(prices, "sms", "+380501234567", 3) == Cost(Decimal("0.3"), "EUR")


def test_bad_arguments_are_refused() -> None:
    prices = table(("sms", "380", "0.1"))
    with pytest.raises(ValueError, match=r"E\.164"):
        cost(prices, "sms", "380501234567", 1)
    with pytest.raises(ValueError, match="at least one part"):
        cost(prices, "sms", "+380501234567", 0)


def test_total_cost_adds_every_send_up() -> None:
    prices = table(("viber_business", "380", "0.015"), ("sms", "380", "0.03"))
    phone = "+380501234567"
    sends = [("viber_business", None), ("sms", 2)]
    assert total_cost(prices, phone, sends) == Cost(Decimal("0.075"), "EUR")
    assert total_cost(prices, phone, []) == Cost(Decimal(0), "EUR")
    assert total_cost(prices, phone, [("sms", 1), ("rcs", None)]) is None  # rcs unpriced
    assert total_cost(PriceTable(), phone, []) is None


def test_a_table_keeps_one_currency_and_one_price_per_key() -> None:
    eur = Price("sms", "380", Decimal(1), "EUR")
    with pytest.raises(ValueError, match="one currency"):
        PriceTable([eur, Price("rcs", "380", Decimal(1), "UAH")])
    with pytest.raises(ValueError, match="two prices"):
        PriceTable([eur, Price("sms", "380", Decimal(2), "EUR")])


prefixes = st.text(alphabet="0123456789", min_size=1, max_size=6).filter(
    lambda p: not p.startswith("0")
)
phones = st.from_regex(r"\+[1-9][0-9]{7,14}", fullmatch=True)


@given(
    listed=st.dictionaries(
        st.tuples(st.sampled_from(CHANNELS[:2]), prefixes),
        st.decimals(min_value=0, max_value=1000, places=6),
        max_size=30,
    ),
    phone=phones,
    channel=st.sampled_from(CHANNELS[:2]),
    extra=prefixes,
)
def test_longest_prefix_rule(
    listed: dict[tuple[str, str], Decimal], phone: str, channel: str, extra: str
) -> None:
    # sometimes list a prefix of the phone itself, so that matches happen often
    listed.setdefault((channel, phone[1 : 1 + len(extra)]), Decimal(1))
    prices = PriceTable(Price(c, p, v, "EUR") for (c, p), v in listed.items())
    matching = [p for (c, p) in listed if c == channel and phone[1:].startswith(p)]
    found = prices.price_of(channel, phone)
    if not matching:
        assert found is None
    else:
        longest = max(matching, key=len)
        assert found is not None
        assert found.country_prefix == longest
        assert cost(prices, channel, phone, None) == Cost(listed[(channel, longest)], "EUR")


@given(
    price=st.decimals(min_value=0, max_value=999_999_999, places=6),
    parts=st.integers(min_value=1, max_value=255),
)
def test_per_part_pricing(price: Decimal, parts: int) -> None:
    prices = PriceTable([Price("sms", "380", price, "UAH"), Price("rcs", "380", price, "UAH")])
    phone = "+380501234567"
    per_part = cost(prices, "sms", phone, parts)
    assert per_part is not None
    assert per_part.currency == "UAH"
    assert per_part.amount == price * parts  # exact: Decimal holds every digit
    assert sum([price] * parts, Decimal(0)) == per_part.amount
    # a send that reports no parts (one whole message) costs the price once
    assert cost(prices, "rcs", phone, None) == Cost(price, "UAH")
    assert cost(prices, "sms", phone, 1) == Cost(price, "UAH")


# --- the file -----------------------------------------------------------------------------


def test_a_good_file() -> None:
    text = (
        "\ufeffchannel,country_prefix,price,currency\r\n"
        "sms,+380,0.0150,EUR\r\n"
        "\r\n"
        " viber_business , 38050 , 0.01 , EUR \r\n"
        ",,,\r\n"
        "flashcall,1,0,EUR\r\n"
    )
    parsed = parse_prices(text, CHANNELS)
    assert parsed.prices == (
        Price("flashcall", "1", Decimal("0"), "EUR"),
        Price("sms", "380", Decimal("0.015"), "EUR"),
        Price("viber_business", "38050", Decimal("0.01"), "EUR"),
    )
    assert parsed.currency == "EUR"
    assert dict(parsed.per_channel()) == {"flashcall": 1, "sms": 1, "viber_business": 1}


def test_the_columns_may_come_in_any_order() -> None:
    parsed = parse_prices("currency,price,country_prefix,channel\nEUR,0.5,44,sms\n", CHANNELS)
    assert parsed.prices == (Price("sms", "44", Decimal("0.5"), "EUR"),)


def test_a_header_only_file_is_an_empty_table() -> None:
    assert len(parse_prices(HEADER + "\n", CHANNELS)) == 0


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty file"),
        ("sms,380,0.1,EUR\n", "the header must be"),
        ("channel,prefix,price,currency\nsms,380,0.1,EUR\n", "the header must be"),
        ("channel,country_prefix,price\nsms,380,0.1\n", "the header must be"),
        ("channel,channel,price,currency\n", "the header must be"),
    ],
)
def test_a_missing_or_wrong_header(text: str, reason: str) -> None:
    found = problems(text)
    assert len(found) == 1
    assert found[0][0] == 1
    assert reason in found[0][1]


def test_every_bad_row_is_reported_with_its_line() -> None:
    text = "\n".join(
        [
            HEADER,
            "sms,380,0.03,EUR",  # 2: good
            "telegrm,380,0.01,EUR",  # 3
            "sms,1234567,0.01,EUR",  # 4
            "sms,+,0.01,EUR",  # 5
            "sms,044,0.01,EUR",  # 6
            "sms,44,-1,EUR",  # 7
            "sms,45,0.0000001,EUR",  # 8
            "sms,46,1e3,EUR",  # 9
            "sms,47,NaN,EUR",  # 10
            "sms,48,1234567890,EUR",  # 11
            "sms,49,0.1,eur",  # 12
            "sms,50,0.1,EURO",  # 13
            "sms,51,0.1,UAH",  # 14
            "sms,+380,0.02,EUR",  # 15: a duplicate of line 2
            "sms,52,0.1",  # 16
            "rcs,380,abc,US",  # 17: two reasons
            "",
            "flashcall,1,0.5,EUR",  # 19: good
        ]
    )
    found = problems(text)
    lines = [line for line, _ in found]
    assert lines == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 17]
    reasons = dict(found)
    assert "unknown channel 'telegrm'" in reasons[3]
    assert "1-6 digits" in reasons[4]
    assert "1-6 digits" in reasons[5]
    assert "starts with 0" in reasons[6]
    for line in (7, 9, 10):
        assert "not a non-negative decimal" in reasons[line]
    assert "more than 6 decimal places" in reasons[8]
    assert "too large" in reasons[11]
    assert "3 capital letters" in reasons[12]
    assert "3 capital letters" in reasons[13]
    assert "differs from EUR (line 2)" in reasons[14]
    assert "priced already on line 2" in reasons[15]
    assert "3 cells, expected 4" in reasons[16]
    on_17 = [r for line, r in found if line == 17]
    assert on_17[0].startswith("price 'abc'")
    assert on_17[1].startswith("currency 'US'")


def test_lines_count_a_quoted_cell_across_lines() -> None:
    found = problems(f'{HEADER}\n"sms\nx",380,0.1,EUR\nsms,380,x,EUR\n')
    assert [line for line, _ in found] == [3, 4]


@pytest.mark.parametrize("bad", ['"sms"x,380,0.1,EUR', '"sms,380,0.1,EUR'])
def test_broken_quoting_is_not_read_as_a_price(bad: str) -> None:
    found = problems(f"{HEADER}\nsms,380,0.1,EUR\n{bad}\n")
    assert len(found) == 1
    assert found[0][0] == 3
    assert "not a CSV file" in found[0][1]


def test_six_decimal_places_and_nine_integer_digits_are_the_most() -> None:
    text = f"{HEADER}\nsms,380,999999999.999999,EUR\nsms,381,000000000001.5,EUR\n"
    parsed = parse_prices(text, CHANNELS)
    assert [p.price for p in parsed.prices] == [Decimal("999999999.999999"), Decimal("1.5")]


@pytest.mark.parametrize(
    ("value", "text"),
    [("0", "0"), ("0.0150", "0.015"), ("100", "100"), ("1E+2", "100"), ("2.500000", "2.5")],
)
def test_format_price(value: str, text: str) -> None:
    assert format_price(Decimal(value)) == text


@given(
    listed=st.dictionaries(
        st.tuples(st.sampled_from(CHANNELS), prefixes),
        st.decimals(min_value=0, max_value=999_999_999, places=6),
        max_size=20,
    )
)
def test_a_table_written_as_csv_reads_back_the_same(listed: dict[tuple[str, str], Decimal]) -> None:
    prices = PriceTable(Price(c, p, v, "USD") for (c, p), v in listed.items())
    assert parse_prices(to_csv(prices), CHANNELS) == prices
