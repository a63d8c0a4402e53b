"""What the metrics read from the store when they are scraped: the due backlog and
ChatHub's chats. A few aggregate statements over indexed columns, no row fetched."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from cascade.store import schema as t
from cascade.store.base import StoreFigures
from cascade.store.sql.database import Database


class Figures(Database):
    async def figures(self, now_ms: int, first_response_bounds_ms: Sequence[int]) -> StoreFigures:
        """The backlog due at `now_ms` (`ix_tasks_due_at`), chats by status, and how many
        answered chats had their first response within each bound."""
        tasks = t.tasks.c
        chats = t.chats.c
        waited = chats.first_response_at - chats.first_client_at
        answered = sa.and_(chats.first_client_at.is_not(None), chats.first_response_at.is_not(None))
        async with self._read() as conn:
            due, oldest = (
                await conn.execute(
                    sa.select(sa.func.count(), sa.func.min(tasks.due_at)).where(
                        tasks.due_at <= now_ms
                    )
                )
            ).one()
            by_status = {
                int(status): int(count)
                for status, count in await conn.execute(
                    sa.select(chats.status, sa.func.count()).group_by(chats.status)
                )
            }
            row = (
                await conn.execute(
                    sa.select(
                        sa.func.count(),
                        sa.func.coalesce(sa.func.sum(waited), 0),
                        *(
                            sa.func.coalesce(sa.func.sum(sa.case((waited <= bound, 1), else_=0)), 0)
                            for bound in first_response_bounds_ms
                        ),
                    ).where(answered)
                )
            ).one()
        return StoreFigures(
            due=int(due),
            oldest_due_at_ms=int(oldest) if oldest is not None else None,
            chats_by_status=by_status,
            first_responses=int(row[0]),
            first_response_sum_ms=int(row[1]),
            first_response_le=[int(n) for n in row[2:]],
        )
