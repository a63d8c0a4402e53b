"""The console's reads (SPEC F): a message search, and a period's figures — its steps by
channel and status, its billed attempts, its throughput and latency by time bucket.

Counting is done by the database (GROUP BY); what the counts mean (funnel buckets, spend
arithmetic, empty buckets) is `cascade.domain`'s. Steps passed over at once are a JSON
array on their message (`messages.skipped`), read and counted here, so the SQL stays
the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import Counter

import msgspec
import sqlalchemy as sa

from cascade.domain.funnel import StepCount
from cascade.domain.lifecycle import AttemptStatus
from cascade.domain.search import MessagePage, MessageQuery, MessageSummary
from cascade.domain.series import BucketRow
from cascade.store import schema as t
from cascade.store.base import SpendRow
from cascade.store.sql.database import Database
from cascade.store.sql.views import VIEW_COLUMNS, message_views

_m = t.messages.c
_a = t.attempts.c
_CONFIRMED = (AttemptStatus.DELIVERED.value, AttemptStatus.READ.value)


def _matching(account_id: str, query: MessageQuery) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = [_m.account_id == account_id]
    if query.phone_prefix is not None:  # "+" and digits only: no LIKE wildcard in it
        where.append(_m.phone.startswith(query.phone_prefix))
    if query.tracking_id is not None:
        where.append(_m.tracking_id == query.tracking_id)
    if query.status is not None:
        where.append(_m.status == query.status)
    if query.channel is not None:
        where.append(_m.channel == query.channel)
    if query.since_ms is not None:
        where.append(_m.created_at >= query.since_ms)
    if query.until_ms is not None:
        where.append(_m.created_at < query.until_ms)
    return where


def _period(account_id: str, since_ms: int, until_ms: int) -> list[sa.ColumnElement[bool]]:
    return [_m.account_id == account_id, _m.created_at >= since_ms, _m.created_at < until_ms]


class ConsoleReads(Database):
    async def search_messages(self, account_id: str, query: MessageQuery) -> MessagePage:
        where = _matching(account_id, query)
        async with self._read() as conn:
            total = (
                await conn.execute(sa.select(sa.func.count()).select_from(t.messages).where(*where))
            ).scalar_one()
            rows = await conn.execute(
                sa.select(
                    _m.id,
                    _m.tracking_id,
                    _m.phone,
                    _m.status,
                    _m.channel,
                    _m.reason,
                    _m.message_type,
                    _m.created_at,
                    _m.updated_at,
                )
                .where(*where)
                .order_by(_m.created_at.desc(), _m.id.desc())
                .offset(query.offset)
                .limit(query.limit)
            )
            items = tuple(MessageSummary(*row) for row in rows)
        return MessagePage(int(total), items)

    async def step_counts(self, account_id: str, since_ms: int, until_ms: int) -> list[StepCount]:
        period = _period(account_id, since_ms, until_ms)
        counted: Counter[tuple[str, str, bool]] = Counter()
        async with self._read() as conn:
            for channel, status, n in await conn.execute(
                sa.select(_a.channel, _a.status, sa.func.count())
                .select_from(t.attempts.join(t.messages, _a.message_id == _m.id))
                .where(*period)
                .group_by(_a.channel, _a.status)
            ):
                counted[(channel, status, False)] += int(n)
            for (skipped,) in await conn.execute(
                sa.select(_m.skipped).where(*period, _m.skipped.is_not(None))
            ):
                for _step, channel, status, *_rest in msgspec.json.decode(skipped):
                    counted[(channel, status, True)] += 1
        return [StepCount(c, s, n, skip) for (c, s, skip), n in sorted(counted.items())]

    async def spend_rows(self, account_id: str, since_ms: int, until_ms: int) -> list[SpendRow]:
        taken = sa.exists().where(_a.message_id == _m.id, _a.provider_message_id.is_not(None))
        async with self._read() as conn:
            rows = list(
                await conn.execute(
                    sa.select(*VIEW_COLUMNS).where(*_period(account_id, since_ms, until_ms), taken)
                )
            )
            views = await message_views(conn, rows)
        return [
            SpendRow(v.phone, v.text, tuple(a for a in v.attempts if a.provider_message_id))
            for v in views
        ]

    async def throughput(
        self, account_id: str, since_ms: int, until_ms: int, size_ms: int
    ) -> list[BucketRow]:
        if size_ms <= 0:
            raise ValueError("a bucket lasts some time")
        accepted_bucket = ((_m.created_at - since_ms) // size_ms).label("bucket")
        due = sa.case((_m.scheduled_at > _m.created_at, _m.scheduled_at), else_=_m.created_at)
        latency = _a.finished_at - due
        delivered_bucket = ((_a.finished_at - since_ms) // size_ms).label("bucket")
        rows: dict[int, BucketRow] = {}
        async with self._read() as conn:
            for bucket, n in await conn.execute(
                sa.select(accepted_bucket, sa.func.count())
                .where(*_period(account_id, since_ms, until_ms))
                .group_by(accepted_bucket)
            ):
                rows[int(bucket)] = BucketRow(int(bucket), accepted=int(n))
            for bucket, n, total, longest in await conn.execute(
                sa.select(
                    delivered_bucket,
                    sa.func.count(),
                    sa.func.sum(latency),
                    sa.func.max(latency),
                )
                .select_from(t.attempts.join(t.messages, _a.message_id == _m.id))
                .where(
                    _m.account_id == account_id,
                    _a.status.in_(_CONFIRMED),
                    _a.finished_at >= since_ms,
                    _a.finished_at < until_ms,
                )
                .group_by(delivered_bucket)
            ):
                old = rows.get(int(bucket), BucketRow(int(bucket)))
                rows[int(bucket)] = BucketRow(
                    old.index, old.accepted, int(n), int(total), int(longest)
                )
        return [rows[i] for i in sorted(rows)]
