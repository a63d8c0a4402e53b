"""Group commit: many small writes that arrive together share one transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupCommit(Generic[T]):
    """Items handed in while a commit is under way wait for the next one and share it.

    One commit runs at a time and takes everything that is waiting when it starts, so
    the number of transactions follows the store's speed, not the number of callers.
    Each caller returns once its items are committed, or raises what the commit raised.

    `linger_s` holds each commit back that long after its first item, so that items
    arriving one by one (SMPP receipts under a window) still share a transaction: it
    trades that much latency for fewer, larger commits.
    """

    def __init__(self, commit: Callable[[list[T]], Awaitable[None]], linger_s: float = 0) -> None:
        self._commit = commit
        self._linger_s = linger_s
        self._waiting: list[T] = []
        self._next: asyncio.Future[None] | None = None
        self._drainer: asyncio.Task[None] | None = None

    async def __call__(self, items: Iterable[T]) -> None:
        loop = asyncio.get_running_loop()
        self._waiting.extend(items)
        if self._next is None:
            self._next = loop.create_future()
            # a caller cancelled while waiting must not leave an unread failure behind
            self._next.add_done_callback(_read_exception)
        done = self._next
        if self._drainer is None:
            self._drainer = loop.create_task(self._drain())
        await asyncio.shield(done)

    async def _drain(self) -> None:
        try:
            while self._next is not None:
                if self._linger_s:
                    await asyncio.sleep(self._linger_s)
                items, self._waiting = self._waiting, []
                done, self._next = self._next, None
                try:
                    await self._commit(items)
                except Exception as err:
                    done.set_exception(err)
                else:
                    done.set_result(None)
        finally:
            self._drainer = None


def _read_exception(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()
