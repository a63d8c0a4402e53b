"""The console's reads in memory: the SQL store's `cascade.store.sql.console`, over the
tables' rows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import msgspec

from cascade.domain.funnel import StepCount
from cascade.domain.lifecycle import AttemptStatus
from cascade.domain.search import MessagePage, MessageQuery, MessageSummary
from cascade.domain.series import BucketRow
from cascade.store.base import SpendRow
from cascade.store.memory.records import Records
from cascade.store.memory.tables import AttemptRow, MessageRow

_CONFIRMED = frozenset({AttemptStatus.DELIVERED, AttemptStatus.READ})


def _matches(row: MessageRow, account_id: str, q: MessageQuery) -> bool:
    return (
        row.account_id == account_id
        and (q.phone_prefix is None or row.phone.startswith(q.phone_prefix))
        and (q.tracking_id is None or row.tracking_id == q.tracking_id)
        and (q.status is None or row.status == q.status)
        and (q.channel is None or row.channel == q.channel)
        and (q.since_ms is None or row.created_at >= q.since_ms)
        and (q.until_ms is None or row.created_at < q.until_ms)
    )


class ConsoleReads(Records):
    def _period(self, account_id: str, since_ms: int, until_ms: int) -> Iterator[MessageRow]:
        for row in self._t.messages.values():
            if row.account_id == account_id and since_ms <= row.created_at < until_ms:
                yield row

    def _attempts(self, message_ids: set[str]) -> Iterator[AttemptRow]:
        return (a for a in self._t.attempts.values() if a.message_id in message_ids)

    async def search_messages(self, account_id: str, query: MessageQuery) -> MessagePage:
        found = sorted(
            (m for m in self._t.messages.values() if _matches(m, account_id, query)),
            key=lambda m: (m.created_at, m.id),
            reverse=True,
        )
        page = found[query.offset : query.offset + query.limit]
        return MessagePage(
            len(found),
            tuple(
                MessageSummary(
                    m.id,
                    m.tracking_id,
                    m.phone,
                    m.status,
                    m.channel,
                    m.reason,
                    m.message_type,
                    m.created_at,
                    m.updated_at,
                )
                for m in page
            ),
        )

    async def step_counts(self, account_id: str, since_ms: int, until_ms: int) -> list[StepCount]:
        messages = list(self._period(account_id, since_ms, until_ms))
        counted: Counter[tuple[str, str, bool]] = Counter(
            (a.channel, a.status, False) for a in self._attempts({m.id for m in messages})
        )
        for m in messages:
            for _step, channel, status, *_rest in msgspec.json.decode(m.skipped or "[]"):
                counted[(channel, status, True)] += 1
        return [StepCount(c, s, n, skip) for (c, s, skip), n in sorted(counted.items())]

    async def spend_rows(self, account_id: str, since_ms: int, until_ms: int) -> list[SpendRow]:
        views = (self._view(m) for m in self._period(account_id, since_ms, until_ms))
        return [
            SpendRow(v.phone, v.text, taken)
            for v in views
            if (taken := tuple(a for a in v.attempts if a.provider_message_id))
        ]

    async def throughput(
        self, account_id: str, since_ms: int, until_ms: int, size_ms: int
    ) -> list[BucketRow]:
        if size_ms <= 0:
            raise ValueError("a bucket lasts some time")
        accepted: Counter[int] = Counter(
            (m.created_at - since_ms) // size_ms
            for m in self._period(account_id, since_ms, until_ms)
        )
        delivered: dict[int, list[int]] = {}
        for a in self._t.attempts.values():
            m = self._t.messages[a.message_id]
            if (
                m.account_id != account_id
                or a.status not in _CONFIRMED
                or a.finished_at is None
                or not since_ms <= a.finished_at < until_ms
            ):
                continue
            due = max(m.created_at, m.scheduled_at or m.created_at)
            delivered.setdefault((a.finished_at - since_ms) // size_ms, []).append(
                a.finished_at - due
            )
        return [
            BucketRow(
                i,
                accepted.get(i, 0),
                len(delivered.get(i, [])),
                sum(delivered.get(i, [])),
                max(delivered.get(i, [0])),
            )
            for i in sorted(set(accepted) | set(delivered))
        ]
