"""The in-memory store's cancel requests (SPEC A9), as `cascade.store.sql.cancel` does:
each message's fate decided by the domain (`cascade.domain.cancel.decide_cancel`) and
written at once, an end with its status-webhook events or the engine's mark."""

from __future__ import annotations

from cascade.domain.cancel import (
    CancelAnswer,
    CancelOutcome,
    CancelRequest,
    CancelState,
    decide_cancel,
)
from cascade.store.memory.ledger import Ledger, _Stored


class Cancels(Ledger):
    async def cancel_messages(self, account_id: str, request: CancelRequest) -> list[CancelOutcome]:
        """Cancel the account's messages named in `request`; one outcome per id, in the
        request's order (another account's id is `not_found`)."""
        t = self._t
        now = self._clock.now_ms()
        outcomes: list[CancelOutcome] = []
        for asked in request.ids:
            found = t.by_tracking.get((account_id, asked)) if request.by_tracking_id else asked
            m = t.messages.get(found) if found is not None else None
            if m is None or m.account_id != account_id:
                outcomes.append(CancelOutcome(asked, CancelAnswer.NOT_FOUND))
                continue
            attempts = [a for a in t.attempts.values() if a.message_id == m.id]
            newest = max(attempts, key=lambda a: (a.step, a.started_at), default=None)
            task = t.tasks.get(m.id)
            state = CancelState(
                m.id,
                m.status,
                m.step,
                m.channel,
                m.reason,
                (newest.id, newest.step, newest.status) if newest is not None else None,
                held=task is not None and task.lease_until is not None and task.lease_until > now,
                requested=m.cancel_requested_at is not None,
            )
            decision = decide_cancel(state, now)
            if (c := decision.attempt_change) is not None:
                a = t.attempts[c.id]
                a.status, a.reason, a.finished_at = c.status, c.reason, c.finished_at_ms
            if decision.change is not None:
                stored: _Stored = (m.status, m.account_id, m.tracking_id, m.surface)
                self._change_messages([decision.change], now, {m.id: stored})
            if decision.mark:
                m.cancel_requested_at = m.updated_at = now
            outcomes.append(CancelOutcome(asked, decision.answer, m.id))
        return outcomes
