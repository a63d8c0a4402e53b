"""Webhooks: the callbacks an account registers (for status changes or incoming messages),
and the delivery of the events owed to them (claimed under a lease, acknowledged or
rescheduled)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from cascade.store import schema as t
from cascade.store.base import CallbackKind
from cascade.store.sql.database import Database


class Callbacks(Database):
    async def claim_callback_events(
        self, now_ms: int, lease_ms: int, limit: int
    ) -> list[tuple[int, str, str, str, int]]:
        """Due webhook events: (event id, url, secret, payload, tries so far)."""
        e = t.callback_events.c
        cb = t.callbacks.c
        due = (
            sa.select(e.id)
            .where(e.delivered_at.is_(None), e.due_at <= now_ms)
            .order_by(e.due_at)
            .limit(limit)
        )
        if self.dialect == "postgresql":
            due = due.with_for_update(skip_locked=True)
        async with self._write() as conn:
            ids = [
                r[0]
                for r in await conn.execute(
                    t.callback_events.update()
                    .where(e.id.in_(due.scalar_subquery()))
                    .values(due_at=now_ms + lease_ms)
                    .returning(e.id)
                )
            ]
            if not ids:
                return []
            rows = await conn.execute(
                sa.select(e.id, cb.url, cb.secret, e.payload, e.tries)
                .join(t.callbacks, cb.id == e.callback_id)
                .where(e.id.in_(ids))
                .order_by(e.message_id, e.seq, e.id)
            )
            return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    async def finish_callback_events(
        self, delivered: Sequence[int], retry: Sequence[tuple[int, int]]
    ) -> None:
        """Mark events acknowledged; reschedule the others at their backoff time."""
        e = t.callback_events.c
        now = self._clock.now_ms()
        async with self._write() as conn:
            if delivered:
                await conn.execute(
                    t.callback_events.update()
                    .where(e.id.in_(list(delivered)))
                    .values(delivered_at=now)
                )
            if retry:
                await conn.execute(
                    t.callback_events.update()
                    .where(e.id == sa.bindparam("b_id"))
                    .values(due_at=sa.bindparam("b_due"), tries=e.tries + 1),
                    [{"b_id": i, "b_due": due} for i, due in retry],
                )

    async def add_callback(
        self, account_id: str, url: str, secret: str, kind: CallbackKind = CallbackKind.STATUS
    ) -> str:
        import uuid

        callback_id = str(uuid.uuid4())
        async with self._write() as conn:
            await conn.execute(
                t.callbacks.insert().values(
                    id=callback_id,
                    account_id=account_id,
                    url=url,
                    secret=secret,
                    created_at=self._clock.now_ms(),
                    kind=kind,
                )
            )
        return callback_id

    async def list_callbacks(
        self, account_id: str, kind: CallbackKind = CallbackKind.STATUS
    ) -> list[tuple[str, str]]:
        cb = t.callbacks.c
        async with self._read() as conn:
            rows = await conn.execute(
                sa.select(cb.id, cb.url)
                .where(cb.account_id == account_id, cb.kind == kind, cb.revoked_at.is_(None))
                .order_by(cb.created_at)
            )
            return [(r[0], r[1]) for r in rows]

    async def remove_callback(self, account_id: str, callback_id: str) -> bool:
        cb = t.callbacks.c
        async with self._write() as conn:
            result = await conn.execute(
                t.callbacks.update()
                .where(cb.id == callback_id, cb.account_id == account_id, cb.revoked_at.is_(None))
                .values(revoked_at=self._clock.now_ms())
            )
        return bool(result.rowcount)
