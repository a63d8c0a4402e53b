"""Status webhooks (SPEC Part C): POST every status change to the account's callback URLs.

Each body is the event as JSON with a per-message `seq`; `X-Cascade-Signature` is
`sha256=` + hex HMAC-SHA256 of the body keyed by the callback's secret. Any 2xx
acknowledges; anything else (or no answer) is retried with backoff, from the database,
so pending events survive restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging

import httpx

from cascade.clock import Clock
from cascade.store.sql import SqlStore

log = logging.getLogger(__name__)

BACKOFF_BASE_MS = 1_000
BACKOFF_CAP_MS = 600_000
LEASE_MS = 30_000


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff_ms(tries: int) -> int:
    return int(min(BACKOFF_CAP_MS, BACKOFF_BASE_MS << min(tries, 20)))


class CallbackDispatcher:
    def __init__(
        self,
        store: SqlStore,
        clock: Clock,
        client: httpx.AsyncClient | None = None,
        batch: int = 100,
        idle_s: float = 0.2,
    ) -> None:
        self._store = store
        self._clock = clock
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(10.0))
        self._batch = batch
        self._idle_s = idle_s

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                done = await self.run_once()
            except Exception:
                log.exception("status webhook cycle failed")
                done = 0
            if done == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self._idle_s)

    async def run_once(self) -> int:
        now = self._clock.now_ms()
        events = await self._store.claim_callback_events(now, LEASE_MS, self._batch)
        if not events:
            return 0
        results = await asyncio.gather(
            *(self._post(url, secret, body) for _, url, secret, body, _ in events)
        )
        done_at = self._clock.now_ms()
        delivered = [e[0] for e, ok in zip(events, results, strict=True) if ok]
        retry = [
            (e[0], done_at + backoff_ms(e[4]))
            for e, ok in zip(events, results, strict=True)
            if not ok
        ]
        await self._store.finish_callback_events(delivered, retry)
        return len(events)

    async def _post(self, url: str, secret: str, payload: str) -> bool:
        body = payload.encode()
        try:
            response = await self._client.post(
                url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Cascade-Signature": sign(secret, body),
                },
            )
        except httpx.HTTPError as err:
            log.info("status webhook %s unreachable: %s", url, type(err).__name__)
            return False
        return 200 <= response.status_code < 300

    async def aclose(self) -> None:
        await self._client.aclose()
