"""The console's throughput and latency over time (SPEC F): a period cut into equal
buckets, each with the messages accepted in it, the messages confirmed delivered in it,
and how long those took.

A message's latency is from when it was due (its schedule, or its acceptance) to the
report that confirmed it (`delivered` or `read`). The store sums latencies per bucket;
this module chooses the bucket size, places the store's rows, and fills the buckets
that had nothing with zeros, so a chart's x axis is time, evenly.

Pure: times are epoch milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
# bucket sizes a person reads at a glance, smallest first
SIZES_MS = (
    MINUTE_MS,
    5 * MINUTE_MS,
    15 * MINUTE_MS,
    HOUR_MS,
    3 * HOUR_MS,
    6 * HOUR_MS,
    12 * HOUR_MS,
    DAY_MS,
    7 * DAY_MS,
)
MAX_BUCKETS = 60


def bucket_size_ms(since_ms: int, until_ms: int, most: int = MAX_BUCKETS) -> int:
    """The smallest size of `SIZES_MS` that cuts the period into at most `most` buckets
    (the largest size when none does)."""
    if until_ms <= since_ms:
        raise ValueError("a period ends after it starts")
    span = until_ms - since_ms
    for size in SIZES_MS:
        if -(-span // size) <= most:
            return size
    return SIZES_MS[-1]


@dataclass(frozen=True, slots=True)
class BucketRow:
    """What the store counted in the bucket that starts `index` sizes after the period's
    start: messages accepted, and messages delivered with their latencies."""

    index: int
    accepted: int = 0
    delivered: int = 0
    latency_sum_ms: int = 0
    latency_max_ms: int = 0


@dataclass(frozen=True, slots=True)
class Point:
    start_ms: int
    accepted: int
    delivered: int
    latency_avg_ms: int | None  # None: nothing delivered in the bucket
    latency_max_ms: int | None


def series(rows: Iterable[BucketRow], since_ms: int, until_ms: int, size_ms: int) -> list[Point]:
    """Every bucket of the period in order, the store's rows placed in theirs (rows for
    one bucket add up; a row outside the period is an error of the caller's)."""
    if size_ms <= 0:
        raise ValueError("a bucket lasts some time")
    count = -(-(until_ms - since_ms) // size_ms)
    merged = [BucketRow(i) for i in range(count)]
    for row in rows:
        if not 0 <= row.index < count:
            raise ValueError(f"bucket {row.index} is outside the period's {count}")
        old = merged[row.index]
        merged[row.index] = BucketRow(
            row.index,
            old.accepted + row.accepted,
            old.delivered + row.delivered,
            old.latency_sum_ms + row.latency_sum_ms,
            max(old.latency_max_ms, row.latency_max_ms),
        )
    return [
        Point(
            since_ms + r.index * size_ms,
            r.accepted,
            r.delivered,
            r.latency_sum_ms // r.delivered if r.delivered else None,
            r.latency_max_ms if r.delivered else None,
        )
        for r in merged
    ]
