"""Rate arithmetic: the generic cell rate algorithm (GCRA), a token bucket kept as one number.

"100 requests/s with bursts to 150" means: a request may go when the bucket's theoretical
arrival time (TAT) is no further ahead of now than 149 emission intervals. One float per
key is the whole state, which is what lets the same rule run in process memory and as an
atomic Redis script (`api/ratelimit.py` holds both backends; this is their arithmetic).
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

_EPSILON = 1e-6  # float sums of many intervals (on a long-running clock) must not
# cost the last request of a burst; a microsecond is far below any rate we enforce


@dataclass(frozen=True, slots=True)
class Rate:
    per_second: float
    burst: int

    @property
    def interval(self) -> float:
        return 1.0 / self.per_second

    @property
    def tolerance(self) -> float:
        return self.interval * (self.burst - 1)


class Decision(msgspec.Struct, frozen=True):
    allowed: bool
    tat: float  # the key's new theoretical arrival time
    retry_after: float  # seconds until a request would be allowed (0 when allowed)


def decide(tat: float | None, now: float, rate: Rate) -> Decision:
    """Take one request at `now` against a key whose stored TAT is `tat` (None: unseen)."""
    current = now if tat is None or tat < now else tat
    ahead = current - now
    if ahead > rate.tolerance + _EPSILON:
        return Decision(False, current, ahead - rate.tolerance)
    return Decision(True, current + rate.interval, 0.0)
