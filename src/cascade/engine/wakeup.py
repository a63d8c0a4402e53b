"""Waking workers when work arrives: PostgreSQL LISTEN/NOTIFY instead of polling.

Intake and reports issue `NOTIFY` on the store's `WAKE_CHANNEL` in the transaction that
makes work due; each worker holds one listening connection and wakes on it. SQLite has no
such channel: there the worker polls its index briefly when idle (and, inside `cascade up`,
the API wakes the engine in-process).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from cascade.store.base import WAKE_CHANNEL

log = logging.getLogger(__name__)


class PgListener:
    def __init__(self, database_url: str, on_notify: Callable[[], None]) -> None:
        self._url = database_url.split("://", 1)[1]
        self._on_notify = on_notify
        self._conn: Any = None

    async def start(self) -> None:
        import asyncpg

        self._conn = await asyncpg.connect("postgresql://" + self._url)
        await self._conn.add_listener(WAKE_CHANNEL, self._notified)

    def _notified(self, *_: object) -> None:
        self._on_notify()

    async def stop(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
