"""What the metrics read when they are scraped, in memory: the SQL store's
`cascade.store.sql.figures`, over the tables' rows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from cascade.store.base import StoreFigures
from cascade.store.memory.records import Records


class Figures(Records):
    async def figures(self, now_ms: int, first_response_bounds_ms: Sequence[int]) -> StoreFigures:
        """The backlog due at `now_ms`, chats by status, and how many answered chats had
        their first response within each bound."""
        due = [task.due_at for task in self._t.tasks.values() if task.due_at <= now_ms]
        waits = [
            chat.first_response_at - chat.first_client_at
            for chat in self._t.chats.values()
            if chat.first_client_at is not None and chat.first_response_at is not None
        ]
        return StoreFigures(
            due=len(due),
            oldest_due_at_ms=min(due, default=None),
            chats_by_status=dict(Counter(chat.status for chat in self._t.chats.values())),
            first_responses=len(waits),
            first_response_sum_ms=sum(waits),
            first_response_le=[
                sum(1 for w in waits if w <= bound) for bound in first_response_bounds_ms
            ],
        )
