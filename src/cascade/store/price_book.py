"""The price table as a long-running process reads it (SPEC D9): the /bat status reports
each message's cost from it, and the console's spend figures and a dry run will too.

A `PriceBook` keeps the table in memory and reads it again only when a `cascade prices
load` has replaced it. Whether one has is asked at most once every `check_s` seconds: a
load gives the table a new version (`PriceStore.price_version`, one indexed `max()`), so
a busy status endpoint costs the database one small query a second, and a new table
shows in every process within that second.
"""

from __future__ import annotations

import asyncio

from cascade.clock import Clock
from cascade.domain.prices import PriceTable
from cascade.store.protocols import PriceStore

CHECK_S = 1.0  # how stale a process's table may be after a load


class PriceBook:
    def __init__(self, store: PriceStore, clock: Clock, check_s: float = CHECK_S) -> None:
        self._store = store
        self._clock = clock
        self._check_s = check_s
        self._table: PriceTable | None = None
        self._checked_at = 0.0
        self._lock = asyncio.Lock()  # one look at the store at a time, for every caller

    def _fresh(self) -> PriceTable | None:
        if self._table is not None and self._clock.monotonic() < self._checked_at + self._check_s:
            return self._table
        return None

    async def table(self) -> PriceTable:
        """The current table: the one kept, unless a load has replaced it. A failing
        store raises (StoreError), and the next call asks it again."""
        fresh = self._fresh()
        if fresh is not None:
            return fresh
        async with self._lock:
            fresh = self._fresh()  # a caller before this one may have just looked
            if fresh is not None:
                return fresh
            now = self._clock.monotonic()
            kept = self._table
            if kept is None or await self._store.price_version() != kept.version:
                kept = self._table = await self._store.price_table()
            self._checked_at = now
            return kept
