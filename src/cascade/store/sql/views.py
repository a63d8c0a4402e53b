"""Reading a message back (`GET /api/status`) and following its short links."""

from __future__ import annotations

import sqlalchemy as sa

from cascade.store import schema as t
from cascade.store.base import AttemptView, MessageView, view_of
from cascade.store.sql.database import Database


class Views(Database):
    async def message_view(
        self, account_id: str, *, message_id: str | None = None, tracking_id: str | None = None
    ) -> MessageView | None:
        m = t.messages.c
        if message_id is not None:
            where = m.id == message_id
        elif tracking_id is not None:
            where = m.tracking_id == tracking_id
        else:
            raise ValueError("message_id or tracking_id is required")
        async with self._read() as conn:
            row = (
                await conn.execute(
                    sa.select(
                        m.id,
                        m.tracking_id,
                        m.status,
                        m.channel,
                        m.reason,
                        m.message_type,
                        m.route,
                        m.phone,
                        m.text,
                        m.created_at,
                        m.scheduled_at,
                        m.expires_at,
                        m.updated_at,
                        m.survey_answer,
                        m.skipped,
                        m.plan,
                    ).where(where, m.account_id == account_id)
                )
            ).first()
            if row is None:
                return None
            a = t.attempts.c
            steps = [
                (r[0], r[5], AttemptView(*r[1:], step=r[0]))
                for r in await conn.execute(
                    sa.select(
                        a.step,
                        a.channel,
                        a.status,
                        a.reason,
                        a.provider_message_id,
                        a.started_at,
                        a.finished_at,
                        a.parts,
                        a.detail,
                    )
                    .where(a.message_id == row.id)
                    .order_by(a.step, a.started_at)
                )
            ]
            clicks = (
                await conn.execute(
                    sa.select(sa.func.count())
                    .select_from(t.clicks.join(t.short_links))
                    .where(t.short_links.c.message_id == row.id)
                )
            ).scalar_one()
        return view_of(row, steps, int(clicks))

    async def follow_link(self, code: str, at_ms: int, user_agent: str | None) -> str | None:
        s = t.short_links.c
        async with self._write() as conn:
            url = (await conn.execute(sa.select(s.url).where(s.code == code))).scalar()
            if url is None:
                return None
            await conn.execute(t.clicks.insert().values(code=code, at=at_ms, user_agent=user_agent))
        return str(url)
