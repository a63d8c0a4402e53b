"""Prices (SPEC D9): what a send costs, by channel and destination country.

An operator loads a price table as CSV, `channel,country_prefix,price,currency`, one row
per channel and country prefix. A send's price is that of the longest prefix of the
recipient's E.164 number listed for the send's channel (`+38050…` takes a `38050` row
over a `380` row). Money is `decimal.Decimal`, never float, in the table's currency as
given (ISO 4217). A table has one currency: the status, the console's spend figures and a
dry run add costs up, and a sum over two currencies means nothing.

SMS is priced per part: a send that reports its parts (the SMS channel's concatenated
segments) costs the price times its parts; a send that reports none (every other channel
carries a message whole) costs the price once.

Pure: the known channel names are an argument, never imported.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from cascade.domain.lifecycle import AttemptStatus
from cascade.domain.phone import is_e164

COLUMNS = ("channel", "country_prefix", "price", "currency")
HEADER = ",".join(COLUMNS)

MAX_PREFIX_DIGITS = 6
MAX_DECIMAL_PLACES = 6
MAX_INTEGER_DIGITS = 9  # a price below a billion: its millionths fit a 64-bit integer

_PREFIX = re.compile(rf"\+?([0-9]{{1,{MAX_PREFIX_DIGITS}}})")
_PRICE = re.compile(r"([0-9]+)(?:\.([0-9]+))?")
_CURRENCY = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True, slots=True)
class Price:
    channel: str
    country_prefix: str  # digits only, without "+"; never starts with 0
    price: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class Cost:
    amount: Decimal
    currency: str


class PriceTable:
    """A whole price table, indexed by (channel, country prefix).

    `version` names the load it came from (0: none yet): a reader that keeps the table
    compares it with the store's to know whether a `prices load` has replaced it.
    """

    __slots__ = ("_index", "currency", "prices", "version")

    def __init__(self, prices: Iterable[Price] = (), version: int = 0) -> None:
        self.prices = tuple(sorted(prices, key=lambda p: (p.channel, p.country_prefix)))
        self.version = version
        self._index: dict[tuple[str, str], Price] = {}
        currencies = {p.currency for p in self.prices}
        if len(currencies) > 1:
            raise ValueError(f"a price table has one currency, not {sorted(currencies)}")
        self.currency: str | None = currencies.pop() if currencies else None
        for p in self.prices:
            key = (p.channel, p.country_prefix)
            if key in self._index:
                raise ValueError(f"two prices for {p.channel} {p.country_prefix}")
            self._index[key] = p

    def __len__(self) -> int:
        return len(self.prices)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PriceTable):
            return NotImplemented
        return self.prices == other.prices and self.version == other.version

    def __hash__(self) -> int:
        return hash((self.prices, self.version))

    def __repr__(self) -> str:
        return f"PriceTable({len(self.prices)} prices, version={self.version})"

    def price_of(self, channel: str, phone: str) -> Price | None:
        """The price of the longest prefix of `phone` (E.164) listed for `channel`."""
        if not is_e164(phone):
            raise ValueError(f"not an E.164 number: {phone!r}")
        digits = phone[1:]
        for size in range(min(MAX_PREFIX_DIGITS, len(digits)), 0, -1):
            found = self._index.get((channel, digits[:size]))
            if found is not None:
                return found
        return None

    def per_channel(self) -> Mapping[str, int]:
        """How many prices each channel has."""
        return Counter(p.channel for p in self.prices)


def cost(table: PriceTable, channel: str, phone: str, parts: int | None) -> Cost | None:
    """What one send costs, or None when the table has no price for it.

    `parts` is what the send reports: an SMS's parts (the price is per part), None for a
    channel that carries a message whole (the price is per message).
    """
    if parts is not None and parts < 1:
        raise ValueError(f"a send has at least one part, not {parts}")
    found = table.price_of(channel, phone)
    if found is None:
        return None
    return Cost(found.price * (parts or 1), found.currency)


def total_cost(
    table: PriceTable, phone: str, sends: Iterable[tuple[str, int | None]]
) -> Cost | None:
    """What a message's sends cost together, each `(channel, parts)` priced by `cost`;
    None when one of them has no price, or when nothing was sent and the table is empty
    (no currency to say zero in)."""
    amount = Decimal(0)
    for channel, parts in sends:
        one = cost(table, channel, phone, parts)
        if one is None:
            return None
        amount += one.amount
    return Cost(amount, table.currency) if table.currency is not None else None


class Send(Protocol):
    """What pricing reads of one attempt of a message (the store's `AttemptView` is one)."""

    @property
    def channel(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def provider_message_id(self) -> str | None: ...
    @property
    def parts(self) -> int | None: ...
    @property
    def started_at_ms(self) -> int: ...


def went_out(attempt: Send) -> bool:
    """Whether an attempt is billed: whether the provider took it and sent it on.

    The provider's answer taking a message gives it the provider's id (`sent`, or
    `delivered` at once), and the attempt keeps that id whatever happens next: a
    `delivered`, `read` or `failed` report, or a window that ends unconfirmed (`timeout`),
    is billed as providers bill it, for the send (an SMS the handset never got is billed
    by the SMSC all the same). One that ends `unreachable` is not: the provider found the
    person is not on the channel at all (not a Viber user, no RCS, no suitable device,
    the bot blocked), and nothing went towards a phone. An attempt without the provider's
    id never reached the provider, or is not known to have: a step passed over
    (`skipped`, or `unreachable` for want of a contact), a send refused in the provider's
    answer (`failed`), one still leaving or waiting to be sent again (`sending`,
    `retrying`, `paused`), or one whose answer was lost (`unknown`, until a report names
    it, which gives it the id). Those cost nothing.
    """
    return attempt.provider_message_id is not None and attempt.status != AttemptStatus.UNREACHABLE


def sent_cost(
    table: PriceTable, phone: str, attempts: Iterable[Send], until_ms: int | None = None
) -> Cost | None:
    """What a message's attempts that went out (`went_out`) cost together (`total_cost`:
    SMS per part); with `until_ms`, only those started by then (what had been sent at
    the moment a status webhook tells of)."""
    return total_cost(
        table,
        phone,
        [
            (a.channel, a.parts)
            for a in attempts
            if went_out(a) and (until_ms is None or a.started_at_ms <= until_ms)
        ],
    )


def amount_number(amount: Decimal) -> Decimal:
    """An amount as the wire shows it, a JSON number: exact, without trailing zeros
    (`0.045`, never `0.045000` nor `4.5E-2`)."""
    return Decimal(format_price(amount))


# --- the CSV file -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    line: int  # 1 is the header
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class PriceFileError(ValueError):
    """A price file with bad rows: every one of them, in file order."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


def format_price(value: Decimal) -> str:
    """A price as the CSV writes it: plain digits, no exponent, no trailing zeros."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def to_csv(table: PriceTable) -> str:
    """The table as a price file (`parse_prices` reads it back to the same prices)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for p in table.prices:
        writer.writerow((p.channel, p.country_prefix, format_price(p.price), p.currency))
    return out.getvalue()


def parse_prices(text: str, channels: Collection[str]) -> PriceTable:
    """A price file's table, every row checked; raises PriceFileError naming every bad row.

    The first line is the header, naming the four columns (in any order); blank lines are
    skipped. `channels` are the channel names a row may give.
    """
    # a spreadsheet's UTF-8 byte order mark is no part of the header
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise PriceFileError([Problem(1, f"empty file: the header is {HEADER}")])
        names = [cell.strip() for cell in header]
        if sorted(names) != sorted(COLUMNS):
            raise PriceFileError(
                [Problem(1, f"the header must be {HEADER}, not {','.join(names)}")]
            )
        columns = {name: i for i, name in enumerate(names)}
        rows = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except csv.Error as err:
        raise PriceFileError([Problem(reader.line_num, f"not a CSV file: {err}")]) from None
    problems: list[Problem] = []
    prices: list[Price] = []
    first_line: dict[tuple[str, str], int] = {}
    currency: tuple[str, int] | None = None  # the table's, and the line that set it
    for line, row in rows:
        if len(row) != len(COLUMNS):
            problems.append(Problem(line, f"{len(row)} cells, expected {len(COLUMNS)}"))
            continue
        cell = {name: row[i].strip() for name, i in columns.items()}
        reasons: list[str] = []
        channel = cell["channel"]
        if channel not in channels:
            reasons.append(f"unknown channel {channel!r} (one of {', '.join(sorted(channels))})")
        prefix, reason = _prefix(cell["country_prefix"])
        if reason:
            reasons.append(reason)
        price, reason = _price(cell["price"])
        if reason:
            reasons.append(reason)
        code = cell["currency"]
        if not _CURRENCY.fullmatch(code):
            reasons.append(f"currency {code!r} is not 3 capital letters (ISO 4217, e.g. EUR)")
        elif currency is None:
            currency = (code, line)
        elif code != currency[0]:
            reasons.append(
                f"currency {code} differs from {currency[0]} (line {currency[1]}): "
                "a price table has one currency"
            )
        if channel in channels and prefix is not None:
            seen = first_line.setdefault((channel, prefix), line)
            if seen != line:
                reasons.append(f"{channel} {prefix} is priced already on line {seen}")
        problems.extend(Problem(line, r) for r in reasons)
        if not reasons and prefix is not None and price is not None:
            prices.append(Price(channel, prefix, price, code))
    if problems:
        raise PriceFileError(problems)
    return PriceTable(prices)


def _prefix(cell: str) -> tuple[str | None, str | None]:
    match = _PREFIX.fullmatch(cell)
    if match is None:
        return None, (
            f"country_prefix {cell!r} is not 1-{MAX_PREFIX_DIGITS} digits (optionally after +)"
        )
    digits = match.group(1)
    if digits.startswith("0"):
        return None, f"country_prefix {cell!r} starts with 0 (no E.164 number does)"
    return digits, None


def _price(cell: str) -> tuple[Decimal | None, str | None]:
    match = _PRICE.fullmatch(cell)
    if match is None:
        return None, f"price {cell!r} is not a non-negative decimal number (e.g. 0.015)"
    whole, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > MAX_DECIMAL_PLACES:
        return None, f"price {cell!r} has more than {MAX_DECIMAL_PLACES} decimal places"
    if len(whole.lstrip("0")) > MAX_INTEGER_DIGITS:
        return None, f"price {cell!r} is too large (at most {MAX_INTEGER_DIGITS} integer digits)"
    return Decimal(cell), None
