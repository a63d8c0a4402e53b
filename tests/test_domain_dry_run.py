"""A dry run's route (`cascade.domain.dry_run.preview_route`), pure: properties over any
message the planner's own suite makes up, and the cases the planner decides alone (an
impossible number, a flash call's fallback with its own TTL)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from hypothesis import given
from msgspec.structs import replace

from cascade.domain.dry_run import Decision, RoutePreview, preview_route
from cascade.domain.message import DEFAULT_TTL, MessageType, Status
from cascade.domain.planner import ChannelInfo, steps_of
from cascade.domain.prices import Price, PriceTable
from cascade.domain.records import Claimed
from tests.test_domain_planner import BOTS, CHANNELS, CONTACTS, LIMITS, NOW, PHONE, claims

TABLE = PriceTable(
    [Price(channel, "380", Decimal("0.01"), "EUR") for channel in ("viber_bot", "sms", "rcs")]
)


def preview(c: Claimed, channels: dict[str, ChannelInfo]) -> RoutePreview:
    return preview_route(c, NOW, channels, BOTS, CONTACTS, {}, lambda ch, co: 1, TABLE)


def fresh(c: Claimed) -> Claimed:
    """The message as a dry run sees it: accepted, nothing tried yet."""
    return replace(c, status=Status.SCHEDULED.value, step=0, last_attempt=None, tries=0)


@given(claims(), CHANNELS)
def test_every_step_of_the_route_is_listed_once_in_order(
    c: Claimed, channels: dict[str, ChannelInfo]
) -> None:
    c = fresh(c)
    found = preview(c, channels)
    assert [(s.step, s.channel) for s in found.steps] == [
        (i, step.channel) for i, step in enumerate(steps_of(c))
    ]


@given(claims(), CHANNELS)
def test_tried_steps_start_in_order_before_the_ttl_ends_and_skips_say_why(
    c: Claimed, channels: dict[str, ChannelInfo]
) -> None:
    c = fresh(c)
    found = preview(c, channels)
    starts = [s.latest_start_ms for s in found.steps if s.decision is Decision.WILL_TRY]
    assert all(start is not None and NOW <= start < c.expires_at_ms for start in starts)
    assert starts == sorted(starts)  # type: ignore[type-var]
    assert all(s.reason for s in found.steps if s.decision is Decision.SKIP)
    tried = [s for s in found.steps if s.decision is Decision.WILL_TRY]
    if tried and all(s.price is not None for s in tried):
        assert found.expected_cost == tried[0].price
        assert found.max_cost == sum((s.price for s in tried if s.price), Decimal(0))


def test_an_impossible_number_skips_every_step() -> None:
    # the numbering plan says +380 11… cannot exist: the engine touches no channel
    claimed = Claimed(
        "m",
        "acct",
        "t",
        "standard",
        "transaction",
        "+380111111111",
        "Hi",
        "Shop",
        (),
        Status.SCHEDULED.value,
        0,
        NOW + 3_600_000,
        0,
        0,
        None,
    )
    channels = {name: ChannelInfo(LIMITS, 60) for name in ("telegram", "viber_bot", "sms")}
    found = preview(claimed, channels)
    assert {(s.decision, s.reason) for s in found.steps} == {(Decision.SKIP, "INVALID_NUMBER")}
    assert (found.end_status, found.end_reason) == ("undeliverable", "INVALID_NUMBER")


def test_a_flash_calls_fallback_gets_its_own_ttl() -> None:
    claimed = Claimed(
        "m",
        "acct",
        "t",
        "standard",
        MessageType.FLASHCALL.value,
        PHONE,
        None,
        "Shop",
        (),
        Status.SCHEDULED.value,
        0,
        NOW + 300_000,
        0,
        0,
        None,
        fallback_type=MessageType.TRANSACTION.value,
        fallback_text="Your code is 1234",
    )
    window = 400  # longer than the call's own TTL
    call_limits = dataclasses.replace(LIMITS, carries=frozenset())  # a call shows no text
    channels = {"flashcall": ChannelInfo(call_limits, window), "sms": ChannelInfo(LIMITS, window)}
    found = preview(claimed, channels)
    call, *rest = [s for s in found.steps if s.decision is Decision.WILL_TRY]
    assert (call.channel, call.window_s) == ("flashcall", 300)  # never beyond the TTL
    [sms] = rest
    assert sms.latest_start_ms == NOW + 300_000  # the call's TTL ran out: the fallback starts
    assert sms.window_s == window  # within its own TTL
    assert DEFAULT_TTL[MessageType.TRANSACTION] > window
