"""The part of an HTTP simulator that calls webhooks back: its HTTP client and the
background tasks that will call later (delivery reports, call progress). Both are
stopped together with the app; `idle` says when no such task is left.

At most `POSTS_IN_FLIGHT` webhook requests (reports, call progress) are under way at
once; the others wait their turn here, so that a burst of reports costs each request
nothing in the client's connection pool. A webhook's setup handshake does not wait its
turn (`post`).

The simulators' client is their own: an aiohttp session (its pool hands out connections
in constant time, where httpx's own bookkeeping was most of a simulator's CPU under a
burst of reports), never the product's provider client. A test may hand in an
`httpx.AsyncClient` (with a mock transport) instead; either way a post answers a
`WebhookAnswer`, or raises `WebhookFailed` when no answer came.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import aiohttp
import httpx

POSTS_IN_FLIGHT = 32
TIMEOUT_S = 5.0  # to connect, and between two reads of an answer


class WebhookAnswer(NamedTuple):
    """What a webhook answered."""

    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


class WebhookFailed(Exception):
    """No answer from the webhook: it could not be reached, or did not answer in time.
    The message names what went wrong (the underlying error's type)."""


@dataclass
class WebhookCaller:
    callback_client: httpx.AsyncClient | None = None  # given: used as is, never closed here
    _session: aiohttp.ClientSession | None = field(default=None, init=False)
    _tasks: dict[object, asyncio.Task[None]] = field(default_factory=dict, init=False)
    _in_flight: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(POSTS_IN_FLIGHT), init=False
    )

    async def start(self) -> None:
        if self.callback_client is None and self._session is None:
            self._session = aiohttp.ClientSession(
                # room beyond the queue's slots for the setup checks that skip it
                connector=aiohttp.TCPConnector(limit=POSTS_IN_FLIGHT + 8),
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=TIMEOUT_S, sock_read=TIMEOUT_S
                ),
            )

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(
        self, url: str, content: bytes | str, headers: dict[str, str], *, queued: bool = True
    ) -> WebhookAnswer:
        """POST to a webhook, waiting for a turn among the requests in flight. A check made
        while a request to the simulator waits for it (a webhook's setup handshake) goes at
        once, `queued=False`: a burst of reports must not hold up the setup call."""
        body = content.encode() if isinstance(content, str) else content
        if not queued:
            return await self._send(url, body, headers)
        async with self._in_flight:
            return await self._send(url, body, headers)

    async def _send(self, url: str, body: bytes, headers: dict[str, str]) -> WebhookAnswer:
        if self.callback_client is not None:
            try:
                given = await self.callback_client.post(url, content=body, headers=headers)
            except httpx.HTTPError as error:
                raise WebhookFailed(type(error).__name__) from error
            return WebhookAnswer(given.status_code, given.content)
        if self._session is None:
            raise RuntimeError("the simulator is not started")
        try:
            async with self._session.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                return WebhookAnswer(response.status, await response.read())
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise WebhookFailed(type(error).__name__) from error

    def spawn(self, work: Coroutine[Any, Any, None], key: object = None) -> None:
        """Run `work` in the background; `key` names it for `withdraw`."""
        task = asyncio.create_task(work)
        name = task if key is None else key
        self._tasks[name] = task
        task.add_done_callback(lambda _: self._forget(name, task))

    def idle(self) -> bool:
        """Whether every task spawned has run to its end (or was withdrawn): nothing more
        will be called back until the simulator is asked again. Tests wait on it to know
        that a report that has not come never will."""
        return not self._tasks

    def withdraw(self, key: object) -> asyncio.Task[None] | None:
        """The task spawned under `key`, no longer stopped with the app."""
        return self._tasks.pop(key, None)

    def _forget(self, key: object, task: asyncio.Task[None]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]
