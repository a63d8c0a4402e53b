"""A message's history, read for its timeline (`cascade status`, the console): its row,
attempts, kept reports, clicks, status-webhook events and flash-call check."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from cascade.domain.timeline import HistoryClick, HistoryWebhook, MessageHistory
from cascade.store import schema as t
from cascade.store.base import history_attempt, history_of, kept_reports
from cascade.store.sql.database import Database
from cascade.store.sql.views import named

_m = t.messages.c


class History(Database):
    async def message_history(
        self,
        account_id: str | None,
        *,
        message_id: str | None = None,
        tracking_id: str | None = None,
    ) -> list[MessageHistory]:
        where = named(message_id, tracking_id)
        if account_id is not None:
            where = sa.and_(where, _m.account_id == account_id)
        async with self._read() as conn:
            rows = list(
                await conn.execute(
                    sa.select(t.messages).where(where).order_by(_m.created_at, _m.id)
                )
            )
            return [await _history(conn, row) for row in rows]


async def _history(conn: AsyncConnection, row: Any) -> MessageHistory:
    a = t.attempts.c
    attempts = list(await conn.execute(sa.select(t.attempts).where(a.message_id == row.id)))
    attempt_ids = [r.id for r in attempts]
    refs = t.provider_refs.c
    provider_ids = {(r.channel, r.provider_message_id) for r in attempts if r.provider_message_id}
    if attempt_ids:
        provider_ids.update(
            (r.channel, r.provider_message_id)
            for r in await conn.execute(
                sa.select(refs.channel, refs.provider_message_id).where(
                    refs.attempt_id.in_(attempt_ids)
                )
            )
        )
    o = t.orphan_reports.c
    orphans: list[Any] = []
    if attempt_ids:
        named = [pid for _, pid in provider_ids]
        orphans = list(
            await conn.execute(
                sa.select(t.orphan_reports)
                .where(sa.or_(o.attempt_id.in_(attempt_ids), o.provider_message_id.in_(named)))
                .order_by(o.id)
            )
        )
    links = t.short_links.c
    clicks = [
        HistoryClick(int(at), agent)
        for at, agent in await conn.execute(
            sa.select(t.clicks.c.at, t.clicks.c.user_agent)
            .select_from(t.clicks.join(t.short_links))
            .where(links.message_id == row.id)
        )
    ]
    e = t.callback_events.c
    cb = t.callbacks.c
    webhooks = [
        HistoryWebhook(r.callback_id, r.url, r.seq, r.payload, r.tries, r.due_at, r.delivered_at)
        for r in await conn.execute(
            sa.select(e.callback_id, cb.url, e.seq, e.payload, e.tries, e.due_at, e.delivered_at)
            .join(t.callbacks, cb.id == e.callback_id)
            .where(e.message_id == row.id)
            .order_by(e.seq, e.id)
        )
    ]
    v = t.verifications.c
    verified_at = (
        await conn.execute(sa.select(v.verified_at).where(v.message_id == row.id))
    ).scalar()
    return history_of(
        row,
        [history_attempt(r) for r in attempts],
        kept_reports(attempt_ids, provider_ids, orphans),
        clicks,
        webhooks,
        verified_at,
    )
