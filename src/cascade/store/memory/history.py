"""The in-memory store's reading of a message's history, for its timeline (as
`cascade.store.sql.history`)."""

from __future__ import annotations

from cascade.domain.timeline import HistoryClick, HistoryWebhook, MessageHistory
from cascade.store.base import history_attempt, history_of, kept_reports
from cascade.store.memory.tables import MemoryBase, MessageRow


class History(MemoryBase):
    async def message_history(
        self,
        account_id: str | None,
        *,
        message_id: str | None = None,
        tracking_id: str | None = None,
    ) -> list[MessageHistory]:
        if message_id is not None:
            rows = [m for m in self._t.messages.values() if m.id == message_id]
        elif tracking_id is not None:
            rows = [m for m in self._t.messages.values() if m.tracking_id == tracking_id]
        else:
            raise ValueError("message_id or tracking_id is required")
        if account_id is not None:
            rows = [m for m in rows if m.account_id == account_id]
        rows.sort(key=lambda m: (m.created_at, m.id))
        return [self._history(row) for row in rows]

    def _history(self, row: MessageRow) -> MessageHistory:
        t = self._t
        attempts = [a for a in t.attempts.values() if a.message_id == row.id]
        attempt_ids = {a.id for a in attempts}
        provider_ids = {
            (a.channel, a.provider_message_id) for a in attempts if a.provider_message_id
        }
        provider_ids.update(
            (r.channel, r.provider_message_id)
            for r in t.provider_refs.values()
            if r.attempt_id in attempt_ids
        )
        codes = {s.code for s in t.short_links.values() if s.message_id == row.id}
        clicks = [HistoryClick(c.at, c.user_agent) for c in t.clicks.values() if c.code in codes]
        events = sorted(
            (e for e in t.callback_events.values() if e.message_id == row.id),
            key=lambda e: (e.seq, e.id),
        )
        webhooks = [
            HistoryWebhook(
                e.callback_id,
                t.callbacks[e.callback_id].url,
                e.seq,
                e.payload,
                e.tries,
                e.due_at,
                e.delivered_at,
            )
            for e in events
        ]
        verification = t.verifications.get(row.id)
        return history_of(
            row,
            [history_attempt(a) for a in attempts],
            kept_reports(attempt_ids, provider_ids, t.orphan_reports.values()),
            clicks,
            webhooks,
            verification.verified_at if verification else None,
        )
