"""Local pacing of sends against a channel's declared rates (per sender, per recipient).

A provider's own throttling answer still pauses the sender (see the worker); pacing only
keeps one worker process from provoking it.
"""

from __future__ import annotations

import asyncio

from cascade.clock import Clock
from cascade.domain.ratelimit import Rate, decide


class Pacer:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._tat: dict[str, float] = {}
        self._paused: dict[str, float] = {}  # sender key → monotonic time it may resume

    async def wait(self, key: str, rate: Rate, until: float = float("inf")) -> float:
        """Wait for the key's next turn and take it (0.0), if it comes before `until`
        (monotonic); otherwise take nothing and return the seconds until it comes."""
        while True:
            now = self._clock.monotonic()
            decision = decide(self._tat.get(key), now, rate)
            if decision.allowed:
                self._tat[key] = decision.tat
                return 0.0
            if now + decision.retry_after > until:
                return decision.retry_after
            await asyncio.sleep(decision.retry_after)

    def pause(self, key: str, seconds: float) -> None:
        until = self._clock.monotonic() + seconds
        if until > self._paused.get(key, 0.0):
            self._paused[key] = until

    def paused_for(self, key: str) -> float:
        """Seconds this sender is still paused (0 when it may send)."""
        until = self._paused.get(key)
        if until is None:
            return 0.0
        left = until - self._clock.monotonic()
        if left <= 0:
            del self._paused[key]
            return 0.0
        return left
