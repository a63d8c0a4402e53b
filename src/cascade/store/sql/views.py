"""Reading messages back (`GET /api/status`, `GET /bat/message…`) and following their
short links."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from cascade.store import schema as t
from cascade.store.base import AttemptView, MessageListView, MessageView, Step, view_of
from cascade.store.sql.database import Database

_m = t.messages.c
VIEW_COLUMNS = (
    _m.id,
    _m.tracking_id,
    _m.status,
    _m.channel,
    _m.reason,
    _m.message_type,
    _m.route,
    _m.phone,
    _m.text,
    _m.created_at,
    _m.scheduled_at,
    _m.expires_at,
    _m.updated_at,
    _m.survey_answer,
    _m.skipped,
    _m.surface,
    _m.list_id,
    _m.plan,
    _m.cancel_requested_at,
)


def named(message_id: str | None, tracking_id: str | None) -> sa.ColumnElement[bool]:
    """The message a look-up names: by its id, else by its tracking id. One with a NUL
    names none (intake refuses it, and PostgreSQL could not even compare it), so no
    surface's look-up by a caller's id needs to check for one."""
    wanted = message_id if message_id is not None else tracking_id
    if wanted is None:
        raise ValueError("message_id or tracking_id is required")
    if "\x00" in wanted:
        return sa.false()
    return _m.id == wanted if message_id is not None else _m.tracking_id == wanted


class Views(Database):
    async def message_view(
        self, account_id: str, *, message_id: str | None = None, tracking_id: str | None = None
    ) -> MessageView | None:
        where = named(message_id, tracking_id)
        async with self._read() as conn:
            row = (
                await conn.execute(
                    sa.select(*VIEW_COLUMNS).where(where, _m.account_id == account_id)
                )
            ).first()
            if row is None:
                return None
            [view] = await message_views(conn, [row])
        return view

    async def messages_by_id(self, message_ids: Collection[str]) -> list[MessageView]:
        if not message_ids:
            return []
        async with self._read() as conn:
            rows = list(
                await conn.execute(sa.select(*VIEW_COLUMNS).where(_m.id.in_(list(message_ids))))
            )
            return await message_views(conn, rows)

    async def message_list(
        self, account_id: str, list_id: int, offset: int, limit: int
    ) -> MessageListView | None:
        """One page of a message list of the account's (None: no such list of its)."""
        lists = t.message_lists.c
        async with self._read() as conn:
            created_at = (
                await conn.execute(
                    sa.select(lists.created_at).where(
                        lists.id == list_id, lists.account_id == account_id
                    )
                )
            ).scalar()
            if created_at is None:
                return None
            total = (
                await conn.execute(
                    sa.select(sa.func.count()).where(
                        _m.list_id == list_id, _m.account_id == account_id
                    )
                )
            ).scalar_one()
            rows = list(
                await conn.execute(
                    sa.select(*VIEW_COLUMNS)
                    .where(_m.list_id == list_id, _m.account_id == account_id)
                    .order_by(_m.created_at, _m.id)
                    .offset(offset)
                    .limit(limit)
                )
            )
            views = await message_views(conn, rows)
        return MessageListView(list_id, int(created_at), int(total), tuple(views))

    async def follow_link(self, code: str, at_ms: int, user_agent: str | None) -> str | None:
        s = t.short_links.c
        async with self._write() as conn:
            url = (await conn.execute(sa.select(s.url).where(s.code == code))).scalar()
            if url is None:
                return None
            await conn.execute(t.clicks.insert().values(code=code, at=at_ms, user_agent=user_agent))
        return str(url)


async def message_views(conn: AsyncConnection, rows: Sequence[Any]) -> list[MessageView]:
    """The messages' views from their rows: their attempts and clicks in one query each."""
    if not rows:
        return []
    ids = [row.id for row in rows]
    a = t.attempts.c
    steps: dict[str, list[Step]] = {}
    for r in await conn.execute(
        sa.select(
            a.message_id,
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
        .where(a.message_id.in_(ids))
        .order_by(a.step, a.started_at)
    ):
        message_id, step, channel, status, reason, provider_id, started, finished, parts, detail = r
        attempt = AttemptView(
            channel, status, reason, provider_id, started, finished, parts, detail, step
        )
        steps.setdefault(message_id, []).append((step, started, attempt))
    links = t.short_links.c
    clicks: dict[str, int] = {
        message_id: int(n)
        for message_id, n in await conn.execute(
            sa.select(links.message_id, sa.func.count())
            .select_from(t.clicks.join(t.short_links))
            .where(links.message_id.in_(ids))
            .group_by(links.message_id)
        )
    }
    return [view_of(row, steps.get(row.id, []), int(clicks.get(row.id, 0))) for row in rows]
