"""The console's spend figures (SPEC F, D9): what a period's messages cost, against what
they would have cost had every one gone as an SMS ("SMS spend avoided").

- **Paid** is what each message's billed sends cost (`prices.went_out`, SMS per part:
  `prices.sent_cost`), as the status reports it.
- **All-SMS** is, for each message that had at least one billed send, the baseline
  channel's price to its number times the parts its text takes there: the one SMS the
  message would have been instead. A message that nothing was billed for (skipped
  everywhere, refused, still waiting) would have cost nothing either way, so it counts on
  neither side.
- **Avoided** is all-SMS minus paid; it is negative when the cascade cost more than SMS
  would have (a price table may make a bot dearer than an SMS).

A message the table cannot price on one side or the other (a send to a country with no
price, or no baseline price for its number) is left out of both sums and counted as
unpriced, so the two sums always cover the same messages. With no price table (no
currency) only the counts are given.

Money is `Decimal` throughout; pure: the baseline channel is the caller's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from cascade.domain.prices import PriceTable, Send, cost, sent_cost, went_out


@dataclass(frozen=True, slots=True)
class SpentMessage:
    """One message of the period: its number, its attempts, and how many parts its text
    takes on the baseline channel."""

    phone: str
    attempts: Sequence[Send]
    baseline_parts: int


@dataclass(frozen=True, slots=True)
class Spend:
    currency: str | None  # None: no price table, counts only
    paid: Decimal
    baseline_cost: Decimal
    messages: int  # messages with at least one billed send
    priced: int  # of those, the ones both sums cover
    sends: Mapping[str, int] = field(default_factory=dict)  # billed sends per channel

    @property
    def avoided(self) -> Decimal:
        return self.baseline_cost - self.paid

    @property
    def unpriced(self) -> int:
        return self.messages - self.priced

    @property
    def avoided_share(self) -> float | None:
        """Avoided as a part of all-SMS (None when all-SMS is zero)."""
        return float(self.avoided / self.baseline_cost) if self.baseline_cost else None


def spend(table: PriceTable, messages: Iterable[SpentMessage], baseline_channel: str) -> Spend:
    paid = Decimal(0)
    baseline_cost = Decimal(0)
    counted = priced = 0
    sends: Counter[str] = Counter()
    for message in messages:
        billed = [a for a in message.attempts if went_out(a)]
        if not billed:
            continue
        counted += 1
        sends.update(a.channel for a in billed)
        if table.currency is None:
            continue
        was = sent_cost(table, message.phone, billed)
        instead = cost(table, baseline_channel, message.phone, max(1, message.baseline_parts))
        if was is None or instead is None:
            continue
        priced += 1
        paid += was.amount
        baseline_cost += instead.amount
    return Spend(table.currency, paid, baseline_cost, counted, priced, dict(sends))
