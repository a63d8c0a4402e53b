"""The part of an HTTP simulator that calls webhooks back: its HTTP client and the
background tasks that will call later (delivery reports, call progress). Both are
stopped together with the app."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class WebhookCaller:
    callback_client: httpx.AsyncClient | None = None  # given: used as is, never closed here
    _owns_client: bool = field(default=False, init=False)
    _tasks: dict[object, asyncio.Task[None]] = field(default_factory=dict, init=False)

    async def start(self) -> None:
        if self.callback_client is None:
            self.callback_client = httpx.AsyncClient(timeout=httpx.Timeout(5.0))
            self._owns_client = True

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._owns_client and self.callback_client is not None:
            await self.callback_client.aclose()
            self.callback_client = None

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
