"""GCRA rate arithmetic (SPEC A5) and the in-process limiter built on it."""

from __future__ import annotations

import pytest

from cascade.api.ratelimit import MemoryLimiter, retry_after_header
from cascade.clock import ManualClock
from cascade.domain.ratelimit import Decision, Rate, decide

SEND = Rate(per_second=100, burst=150)
STATUS = Rate(per_second=50, burst=75)


class Bucket:
    """One key's state, driven through `decide` as the limiters drive it."""

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self.tat: float | None = None

    def hit(self, now: float) -> Decision:
        decision = decide(self.tat, now, self.rate)
        self.tat = decision.tat
        return decision

    def burst(self, now: float, count: int) -> list[Decision]:
        return [self.hit(now) for _ in range(count)]


def allowed(decisions: list[Decision]) -> int:
    return sum(d.allowed for d in decisions)


# --- the rule -----------------------------------------------------------------------------


def test_rate_shape() -> None:
    assert SEND.interval == pytest.approx(0.01)
    assert SEND.tolerance == pytest.approx(1.49)


def test_first_request_of_unseen_key_allowed() -> None:
    decision = decide(None, 50.0, SEND)
    assert decision.allowed
    assert decision.tat == pytest.approx(50.01)
    assert decision.retry_after == 0.0


# `time.monotonic()` counts from boot on Linux: a host up for weeks reads ~1e6 seconds,
# where a float's resolution is ~1e-10 s and 150 additions of 0.01 drift further than that.
MONOTONIC_STARTS = [
    pytest.param(0.0, id="t=0"),
    pytest.param(1_000.0, id="uptime 17 min"),
    pytest.param(200_000.0, id="uptime 2.3 days"),
    pytest.param(1_234_567.891, id="uptime 14 days"),
    pytest.param(9_000_000.0, id="uptime 104 days"),
]


@pytest.mark.parametrize("start", MONOTONIC_STARTS)
def test_burst_of_exactly_150_at_one_instant(start: float) -> None:
    bucket = Bucket(SEND)
    decisions = bucket.burst(start, 150)
    assert all(d.allowed for d in decisions)
    assert all(d.retry_after == 0.0 for d in decisions)
    refused = bucket.hit(start)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(0.01, abs=1e-6)


def test_refusal_does_not_consume() -> None:
    bucket = Bucket(SEND)
    bucket.burst(0.0, 150)
    tat = bucket.tat
    for _ in range(50):
        refused = bucket.hit(0.0)
        assert not refused.allowed
        assert refused.retry_after == pytest.approx(0.01, abs=1e-6)
    assert bucket.tat == tat


def test_retry_after_is_accurate() -> None:
    bucket = Bucket(SEND)
    bucket.burst(0.0, 150)
    wait = bucket.hit(0.0).retry_after
    assert not bucket.hit(wait * 0.5).allowed
    assert bucket.hit(wait + 1e-6).allowed


def test_after_one_second_exactly_100_more() -> None:
    bucket = Bucket(SEND)
    assert allowed(bucket.burst(0.0, 200)) == 150
    later = bucket.burst(1.0, 150)
    assert allowed(later) == 100
    assert all(d.allowed for d in later[:100])
    assert not any(d.allowed for d in later[100:])
    assert later[100].retry_after == pytest.approx(0.01, abs=1e-6)


def test_after_long_idle_the_full_burst_returns_but_no_more() -> None:
    bucket = Bucket(SEND)
    bucket.burst(0.0, 150)
    assert allowed(bucket.burst(3_600.0, 400)) == 150


def test_steady_pace_of_one_per_10_ms_always_allowed() -> None:
    bucket = Bucket(SEND)
    for n in range(5_000):
        assert bucket.hit(n * 0.01).allowed, n


def test_steady_pace_allowed_even_with_burst_one() -> None:
    """Exactly at the rate, no burst allowance is needed (float sums must not cost)."""
    bucket = Bucket(Rate(per_second=100, burst=1))
    now = 1_000.0
    for n in range(5_000):
        assert bucket.hit(now).allowed, n
        now += 0.01


def test_pace_faster_than_rate_is_refused_once_burst_is_spent() -> None:
    bucket = Bucket(SEND)
    results = [bucket.hit(n * 0.005).allowed for n in range(1_000)]  # 200/s
    # 150 burst + 100/s refill: the first refusal comes after ~3 s of 200/s.
    first_refusal = results.index(False)
    assert 290 <= first_refusal <= 300
    # Over 5 s at most 150 + 100 * 5 requests pass.
    assert sum(results) <= 150 + 500 + 1


def test_status_rate_burst_75() -> None:
    bucket = Bucket(STATUS)
    decisions = bucket.burst(0.0, 80)
    assert allowed(decisions) == 75
    assert decisions[75].retry_after == pytest.approx(0.02, abs=1e-6)
    assert allowed(bucket.burst(1.0, 80)) == 50


@pytest.mark.parametrize(
    ("rate", "expected"),
    [(Rate(1, 1), 1), (Rate(10, 5), 5), (Rate(0.5, 3), 3), (Rate(1_000, 2_000), 2_000)],
)
def test_burst_size_for_other_rates(rate: Rate, expected: int) -> None:
    assert allowed(Bucket(rate).burst(0.0, expected + 10)) == expected


def test_slow_rate_retry_after() -> None:
    bucket = Bucket(Rate(per_second=0.5, burst=1))
    assert bucket.hit(0.0).allowed
    refused = bucket.hit(0.5)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(1.5)


# --- Retry-After --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("retry_after", "header"),
    [
        (0.0, "1"),
        (0.001, "1"),
        (0.01, "1"),
        (0.999, "1"),
        (1.0, "1"),
        (1.0001, "2"),
        (1.5, "2"),
        (2.0, "2"),
        (59.2, "60"),
    ],
)
def test_retry_after_header_rounds_up_to_whole_seconds(retry_after: float, header: str) -> None:
    assert retry_after_header(Decision(False, 0.0, retry_after)) == header


# --- MemoryLimiter ------------------------------------------------------------------------


async def test_memory_limiter_burst_then_refill() -> None:
    clock = ManualClock()
    limiter = MemoryLimiter(clock)
    results = [await limiter.hit("acct:send", SEND) for _ in range(151)]
    assert all(d.allowed for d in results[:150])
    refused = results[150]
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(0.01, abs=1e-6)
    assert retry_after_header(refused) == "1"

    clock.advance(1.0)
    later = [await limiter.hit("acct:send", SEND) for _ in range(101)]
    assert sum(d.allowed for d in later) == 100
    assert not later[-1].allowed

    clock.advance(0.01)
    assert (await limiter.hit("acct:send", SEND)).allowed
    assert not (await limiter.hit("acct:send", SEND)).allowed
    await limiter.close()


@pytest.mark.parametrize("uptime", [0.0, 1_234_567.0])
async def test_memory_limiter_burst_on_long_running_host(uptime: float) -> None:
    clock = ManualClock()
    clock.advance(uptime)
    limiter = MemoryLimiter(clock)
    results = [(await limiter.hit("k", SEND)).allowed for _ in range(151)]
    assert results.count(True) == 150
    assert results[:150] == [True] * 150


async def test_memory_limiter_forgets_keys_whose_time_has_passed() -> None:
    """One key per client address: the addresses of an hour ago are not kept for ever,
    and a key still inside its burst is kept with what it has used."""
    clock = ManualClock()
    limiter = MemoryLimiter(clock)
    rate = Rate(1, 2)
    for n in range(MemoryLimiter.SWEEP_EVERY - 2):
        assert (await limiter.hit(f"addr:{n}", rate)).allowed
    assert len(limiter) == MemoryLimiter.SWEEP_EVERY - 2
    clock.advance(3600)
    assert (await limiter.hit("busy", rate)).allowed
    assert (await limiter.hit("busy", rate)).allowed  # the sweep: only "busy" is current
    assert len(limiter) == 1
    assert not (await limiter.hit("busy", rate)).allowed  # its burst was not forgotten
    assert (await limiter.hit("addr:0", rate)).allowed


async def test_memory_limiter_keys_are_independent() -> None:
    clock = ManualClock()
    limiter = MemoryLimiter(clock)
    for _ in range(150):
        assert (await limiter.hit("a:send", SEND)).allowed
    assert not (await limiter.hit("a:send", SEND)).allowed
    assert (await limiter.hit("b:send", SEND)).allowed
    assert (await limiter.hit("a:status", STATUS)).allowed


async def test_memory_limiter_steady_pace() -> None:
    clock = ManualClock()
    limiter = MemoryLimiter(clock)
    for n in range(2_000):
        assert (await limiter.hit("k", Rate(100, 1))).allowed, n
        clock.advance(0.01)


async def test_memory_limiter_uses_the_rate_given_per_call() -> None:
    """Per-account limits: a key's rate comes with each hit."""
    clock = ManualClock()
    limiter = MemoryLimiter(clock)
    tight = Rate(per_second=2, burst=2)
    assert (await limiter.hit("k", tight)).allowed
    assert (await limiter.hit("k", tight)).allowed
    refused = await limiter.hit("k", tight)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(0.5)
    clock.advance(0.5)
    assert (await limiter.hit("k", tight)).allowed
