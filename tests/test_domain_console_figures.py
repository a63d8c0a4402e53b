"""The console's figures as pure functions: funnel buckets (`domain/funnel.py`), spend
against all-SMS with Decimal (`domain/spend.py`), time buckets (`domain/series.py`), and
what a typed phone means to the search (`domain/search.py`)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cascade.domain.funnel import BUCKET, ChannelFunnel, Outcome, StepCount, funnel, outcome
from cascade.domain.lifecycle import AttemptStatus
from cascade.domain.prices import Price, PriceTable
from cascade.domain.search import MessageQuery, phone_prefix
from cascade.domain.series import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    BucketRow,
    Point,
    bucket_size_ms,
    series,
)
from cascade.domain.spend import SpentMessage, spend
from cascade.store.base import AttemptView

# --- funnel -------------------------------------------------------------------------------


def test_every_attempt_status_has_a_bucket() -> None:
    assert set(BUCKET) == set(AttemptStatus)


@pytest.mark.parametrize(
    ("status", "bucket"),
    [
        ("delivered", Outcome.DELIVERED),
        ("read", Outcome.DELIVERED),
        ("sent", Outcome.SENT),
        ("timeout", Outcome.SENT),
        ("failed", Outcome.FAILED),
        ("unreachable", Outcome.FAILED),
        ("unknown", Outcome.FAILED),
        ("skipped", Outcome.SKIPPED),
        ("sending", Outcome.PENDING),
        ("retrying", Outcome.PENDING),
        ("paused", Outcome.PENDING),
        ("a status from the future", Outcome.PENDING),
    ],
)
def test_bucket_of_a_status(status: str, bucket: Outcome) -> None:
    assert outcome(status) is bucket


def test_funnel_orders_channels_as_the_route_and_adds_up_buckets() -> None:
    rows = [
        StepCount("sms", "delivered", 3),
        StepCount("telegram", "skipped", 5),
        StepCount("telegram", "delivered", 4),
        StepCount("telegram", "read", 1),
        StepCount("sms", "timeout", 2),
        StepCount("flashcall", "failed", 1),  # not in the order given: after, by name
        StepCount("carrier_pigeon", "sent", 1),
        StepCount("viber_bot", "failed", 0),  # nothing counted: left out
        StepCount("sms", "unreachable", 4, passed_over=True),  # no contact: nothing sent
    ]
    found = funnel(rows, ["telegram", "viber_bot", "sms"])
    assert [f.channel for f in found] == ["telegram", "sms", "carrier_pigeon", "flashcall"]
    telegram = found[0]
    assert telegram.counts[Outcome.DELIVERED] == 5
    assert telegram.counts[Outcome.SKIPPED] == 5
    assert telegram.total == 10
    assert telegram.share(Outcome.DELIVERED) == 0.5
    assert found[1].counts == {
        Outcome.DELIVERED: 3,
        Outcome.SENT: 2,
        Outcome.FAILED: 0,
        Outcome.SKIPPED: 4,
        Outcome.PENDING: 0,
    }


def test_funnel_refuses_a_negative_count_and_shares_of_nothing_are_zero() -> None:
    with pytest.raises(ValueError, match="negative"):
        funnel([StepCount("sms", "sent", -1)])
    assert ChannelFunnel("sms", dict.fromkeys(Outcome, 0)).share(Outcome.SENT) == 0.0


# --- spend --------------------------------------------------------------------------------

TABLE = PriceTable(
    [
        Price("sms", "380", Decimal("0.030"), "EUR"),
        Price("telegram", "380", Decimal("0.001"), "EUR"),
        Price("viber_bot", "380", Decimal("0.002"), "EUR"),
        Price("sms", "48", Decimal("0.05"), "EUR"),
    ]
)
UA = "+380501234567"


def sent(channel: str, status: str = "delivered", parts: int | None = None) -> AttemptView:
    return AttemptView(channel, status, None, "p", 0, 1, parts)


def test_spend_against_all_sms_in_exact_decimals() -> None:
    messages = [
        SpentMessage(UA, [sent("telegram")], baseline_parts=1),  # 0.001 instead of 0.030
        SpentMessage(UA, [sent("telegram")], baseline_parts=3),  # 0.001 instead of 0.090
        # Viber took it and it timed out, then SMS in 2 parts: both billed
        SpentMessage(UA, [sent("viber_bot", "timeout"), sent("sms", parts=2)], 2),
        # not billed: the provider found no such user
        SpentMessage(UA, [sent("viber_bot", "unreachable")], 1),
    ]
    result = spend(TABLE, messages, "sms")
    assert result.currency == "EUR"
    assert result.paid == Decimal("0.001") * 2 + Decimal("0.002") + Decimal("0.060")
    assert result.baseline_cost == Decimal("0.030") + Decimal("0.090") + Decimal("0.060")
    assert result.avoided == Decimal("0.116")
    assert str(result.avoided) == "0.116"  # exact: no float on the way
    assert (result.messages, result.priced, result.unpriced) == (3, 3, 0)
    assert result.sends == {"telegram": 2, "viber_bot": 1, "sms": 1}
    assert result.avoided_share == pytest.approx(0.116 / 0.180)


def test_a_message_priced_on_one_side_only_counts_on_neither() -> None:
    poland = "+48501234567"  # SMS priced, Telegram not
    result = spend(
        TABLE,
        [SpentMessage(poland, [sent("telegram")], 1), SpentMessage(UA, [sent("sms", parts=1)], 1)],
        "sms",
    )
    assert (result.paid, result.baseline_cost, result.avoided) == (
        Decimal("0.030"),
        Decimal("0.030"),
        Decimal(0),
    )
    assert (result.messages, result.priced, result.unpriced) == (2, 1, 1)


def test_without_a_price_table_only_counts() -> None:
    result = spend(PriceTable(), [SpentMessage(UA, [sent("telegram")], 1)], "sms")
    assert result.currency is None
    assert (result.messages, result.priced, result.paid, result.avoided) == (1, 0, 0, 0)
    assert result.avoided_share is None
    assert result.sends == {"telegram": 1}


def test_a_dearer_cascade_avoids_a_negative_amount() -> None:
    dear = PriceTable(
        [Price("sms", "380", Decimal("0.01"), "EUR"), Price("rcs", "380", Decimal("0.05"), "EUR")]
    )
    result = spend(dear, [SpentMessage(UA, [sent("rcs")], 1)], "sms")
    assert result.avoided == Decimal("-0.04")


# --- series -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("span_ms", "size_ms"),
    [
        (30 * MINUTE_MS, MINUTE_MS),
        (60 * MINUTE_MS, MINUTE_MS),
        (61 * MINUTE_MS, 5 * MINUTE_MS),
        (DAY_MS, HOUR_MS),
        (7 * DAY_MS, 3 * HOUR_MS),
        (30 * DAY_MS, 12 * HOUR_MS),
        (3650 * DAY_MS, 7 * DAY_MS),  # nothing cuts it in 60: the largest size
    ],
)
def test_bucket_size_for_a_period(span_ms: int, size_ms: int) -> None:
    assert bucket_size_ms(0, span_ms) == size_ms


def test_bucket_size_refuses_an_empty_period() -> None:
    with pytest.raises(ValueError, match="ends after"):
        bucket_size_ms(5, 5)


def test_series_fills_empty_buckets_and_averages_latency() -> None:
    rows = [
        BucketRow(0, accepted=2, delivered=2, latency_sum_ms=300, latency_max_ms=200),
        BucketRow(2, accepted=1),
        BucketRow(2, delivered=1, latency_sum_ms=50, latency_max_ms=50),  # same bucket: added
    ]
    points = series(rows, 1_000, 1_000 + 3 * MINUTE_MS - 1, MINUTE_MS)
    assert points == [
        Point(1_000, 2, 2, 150, 200),
        Point(1_000 + MINUTE_MS, 0, 0, None, None),
        Point(1_000 + 2 * MINUTE_MS, 1, 1, 50, 50),
    ]
    with pytest.raises(ValueError, match="outside"):
        series([BucketRow(3)], 0, 3 * MINUTE_MS, MINUTE_MS)


# --- search -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "prefix"),
    [
        ("+380 50 123-45-67", "+380501234567"),
        ("380501234567", "+380501234567"),
        ("(380) 50", "+38050"),
        ("+", None),
        ("0501234567", None),  # a national number: no E.164 number starts with 0
        ("' OR 1=1 --", None),
        ("<b>380</b>", None),
        ("٣٨٠", None),  # digits, but not ASCII ones
        ("+1234567890123456", None),  # longer than E.164 allows
    ],
)
def test_phone_prefix(typed: str, prefix: str | None) -> None:
    assert phone_prefix(typed) == prefix


def test_a_query_refuses_what_the_form_should_have_caught() -> None:
    with pytest.raises(ValueError, match=r"E\.164"):
        MessageQuery(phone_prefix="380%")
    with pytest.raises(ValueError, match="page"):
        MessageQuery(limit=0)
    with pytest.raises(ValueError, match="page"):
        MessageQuery(offset=-1)
