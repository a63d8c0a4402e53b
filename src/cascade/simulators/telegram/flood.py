"""Telegram's flood control: at most 30 messages a second per bot and one a second per
chat, as token buckets (a bot answered 429 with `retry_after` when one is empty)."""

from __future__ import annotations

from typing import Any


class Buckets:
    """Token buckets keyed by bot or chat: `rate` per second, bursts of `burst`."""

    def __init__(self, rate: float, burst: float) -> None:
        self._rate, self._burst = rate, burst
        self._state: dict[Any, tuple[float, float]] = {}

    def _tokens(self, key: Any, now: float) -> float:
        tokens, at = self._state.get(key, (self._burst, now))
        return min(self._burst, tokens + (now - at) * self._rate)

    def wait(self, key: Any, now: float) -> float:
        """Seconds until one more message may pass (0 when it may pass now)."""
        missing = 1.0 - self._tokens(key, now)
        return 0.0 if missing <= 1e-9 else missing / self._rate

    def take(self, key: Any, now: float) -> None:
        self._state[key] = (self._tokens(key, now) - 1.0, now)

    def clear(self) -> None:
        self._state.clear()
