"""The part of an HTTP simulator that calls webhooks back: its HTTP client and the
background tasks that will call later (delivery reports, call progress). Both are
stopped together with the app.

At most `POSTS_IN_FLIGHT` webhook requests (reports, call progress) are under way at
once; the others wait their turn here. Left to queue inside httpx's connection pool,
thousands of them made every request cost time in proportion to the queue (the pool
re-examines all waiting requests at each change), and a burst of reports stalled the
simulator's event loop. A webhook's setup handshake does not wait its turn (`post`).
The posts go through the channels' aiohttp-pooled transport (`channels/transport.py`):
with httpx's own pool, its per-request bookkeeping was most of a simulator's CPU under a
burst of reports.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx

from cascade.channels.transport import provider_client

POSTS_IN_FLIGHT = 32


@dataclass
class WebhookCaller:
    callback_client: httpx.AsyncClient | None = None  # given: used as is, never closed here
    _owns_client: bool = field(default=False, init=False)
    _tasks: dict[object, asyncio.Task[None]] = field(default_factory=dict, init=False)
    _in_flight: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(POSTS_IN_FLIGHT), init=False
    )

    async def start(self) -> None:
        if self.callback_client is None:
            # room beyond the queue's slots for the setup checks that skip it
            self.callback_client = provider_client(POSTS_IN_FLIGHT + 8, httpx.Timeout(5.0))
            self._owns_client = True

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._owns_client and self.callback_client is not None:
            await self.callback_client.aclose()
            self.callback_client = None

    async def post(
        self, url: str, content: bytes | str, headers: dict[str, str], *, queued: bool = True
    ) -> httpx.Response:
        """POST to a webhook, waiting for a turn among the requests in flight. A check made
        while a request to the simulator waits for it (a webhook's setup handshake) goes at
        once, `queued=False`: a burst of reports must not hold up the setup call."""
        if self.callback_client is None:
            raise RuntimeError("the simulator is not started")
        if not queued:
            return await self.callback_client.post(url, content=content, headers=headers)
        async with self._in_flight:
            return await self.callback_client.post(url, content=content, headers=headers)

    def spawn(self, work: Coroutine[Any, Any, None], key: object = None) -> None:
        """Run `work` in the background; `key` names it for `withdraw`."""
        task = asyncio.create_task(work)
        name = task if key is None else key
        self._tasks[name] = task
        task.add_done_callback(lambda _: self._forget(name, task))

    def withdraw(self, key: object) -> asyncio.Task[None] | None:
        """The task spawned under `key`, no longer stopped with the app."""
        return self._tasks.pop(key, None)

    def _forget(self, key: object, task: asyncio.Task[None]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]
