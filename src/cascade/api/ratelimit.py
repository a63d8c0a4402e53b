"""Per-account rate limits (SPEC A5), in process memory or shared through Redis.

Both backends apply the same GCRA rule (`cascade.domain.ratelimit`). With Redis the rule
runs as one Lua script on Redis's own clock, so every API process draws from one bucket.
If Redis cannot be reached the request is let through and the failure logged: an outage
of the limiter must not become an outage of message intake.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any, Protocol

from litestar import Request

from cascade.clock import Clock
from cascade.domain.ratelimit import Decision, Rate, decide

if TYPE_CHECKING:
    from redis.commands.core import AsyncScript

log = logging.getLogger(__name__)


class Limiter(Protocol):
    async def hit(self, key: str, rate: Rate) -> Decision:
        """Take one request from the key's bucket, if it has room."""

    async def peek(self, key: str, rate: Rate) -> Decision:
        """Whether a request would be allowed now, taking nothing (the sign-in throttle
        counts only failures, known after the password is checked)."""

    async def close(self) -> None: ...


def client_address(request: Request[Any, Any, Any]) -> str:
    """What per-address limits count by: the peer's address (behind a reverse proxy, the
    proxy's, which all its clients share)."""
    return request.client.host if request.client is not None else "unknown"


def retry_after_header(decision: Decision) -> str:
    """Retry-After is whole seconds; round up so a client that obeys it succeeds."""
    return str(max(1, math.ceil(decision.retry_after)))


class MemoryLimiter:
    """Keys' TATs in a dict. A key whose TAT has passed is as good as unseen (`decide`
    treats both alike), so such keys are dropped every SWEEP_EVERY hits: keys made from
    client addresses (the public media URL) do not pile up."""

    SWEEP_EVERY = 4096

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._tat: dict[str, float] = {}
        self._hits = 0

    def __len__(self) -> int:
        """How many keys are held."""
        return len(self._tat)

    async def hit(self, key: str, rate: Rate) -> Decision:
        now = self._clock.monotonic()
        self._hits += 1
        if self._hits % self.SWEEP_EVERY == 0:
            self._tat = {k: tat for k, tat in self._tat.items() if tat > now}
        decision = decide(self._tat.get(key), now, rate)
        self._tat[key] = decision.tat
        return decision

    async def peek(self, key: str, rate: Rate) -> Decision:
        return decide(self._tat.get(key), self._clock.monotonic(), rate)

    async def close(self) -> None:
        return None


# The same arithmetic as domain.ratelimit.decide, in integer microseconds on Redis's clock:
# whether a request would be allowed now (else how long until one is), then, for a hit
# that is, the key's TAT moved on. A peek is the first part alone.
_GCRA_DECIDE = """
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local ahead = tat - now
if ahead > tolerance then return {0, ahead - tolerance} end
"""
_GCRA = (
    _GCRA_DECIDE
    + """
local new_tat = tat + interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return {1, 0}
"""
)
_GCRA_PEEK = _GCRA_DECIDE + "return {1, 0}\n"


class RedisLimiter:
    def __init__(self, url: str, prefix: str = "cascade:rl:") -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url)
        self._script = self._redis.register_script(_GCRA)
        self._peek = self._redis.register_script(_GCRA_PEEK)
        self._prefix = prefix

    async def hit(self, key: str, rate: Rate) -> Decision:
        return await self._run(self._script, key, rate)

    async def peek(self, key: str, rate: Rate) -> Decision:
        return await self._run(self._peek, key, rate)

    async def _run(self, script: AsyncScript, key: str, rate: Rate) -> Decision:
        interval = round(rate.interval * 1_000_000)
        tolerance = interval * (rate.burst - 1)
        try:
            allowed, wait_us = await script(keys=[self._prefix + key], args=[interval, tolerance])
        except Exception:  # the limiter failing must not stop intake
            log.warning("rate limiter: Redis unavailable, request let through", exc_info=True)
            return Decision(True, 0.0, 0.0)
        return Decision(bool(allowed), 0.0, int(wait_us) / 1_000_000)

    async def close(self) -> None:
        await self._redis.aclose()
