"""Cancelling messages (SPEC A9): the messages asked for are read and locked, each one's
fate decided by the domain (`cascade.domain.cancel.decide_cancel`), and what it says
written in the same transaction — the end of a message with no step in flight (with its
status-webhook events), or the mark the engine honours for one whose step is in flight."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.engine import Connection

from cascade.domain.cancel import (
    CancelAnswer,
    CancelDecision,
    CancelOutcome,
    CancelRequest,
    CancelState,
    decide_cancel,
)
from cascade.domain.delivery import is_final
from cascade.store.bulk import Bulk, ByIds
from cascade.store.sql.changes import MessageChanges, _Stored

_SELECT = "SELECT id, tracking_id, status, step, channel, reason, cancel_requested_at, surface "
_BY_ID = ByIds(_SELECT + "FROM messages WHERE account_id = ? AND id {ids} ORDER BY id")
_BY_TRACKING_ID = ByIds(
    _SELECT + "FROM messages WHERE account_id = ? AND tracking_id {ids} ORDER BY id"
)
_NEWEST_ATTEMPTS = ByIds(
    "SELECT message_id, id, step, status FROM attempts WHERE message_id {ids} "
    "ORDER BY message_id, step, started_at"
)
_LEASES = ByIds(
    "SELECT message_id, lease_until FROM tasks WHERE message_id {ids} ORDER BY message_id"
)
_MARK = Bulk("UPDATE messages SET cancel_requested_at = ?, updated_at = ? WHERE id = ?")
_END_ATTEMPT = Bulk("UPDATE attempts SET status = ?, reason = ?, finished_at = ? WHERE id = ?")


class Cancels(MessageChanges):
    async def cancel_messages(self, account_id: str, request: CancelRequest) -> list[CancelOutcome]:
        """Cancel the account's messages named in `request`, in one transaction; one
        outcome per id, in the request's order (another account's id is `not_found`)."""
        now = self._clock.now_ms()
        return await self._transact(lambda conn: self._cancel(conn, account_id, request, now))

    def _cancel(
        self, conn: Connection, account_id: str, request: CancelRequest, now: int
    ) -> list[CancelOutcome]:
        query = _BY_TRACKING_ID if request.by_tracking_id else _BY_ID
        # messages first, then their tasks: the order the engine's writers lock them in;
        # each by id, so two cancels over the same messages cannot deadlock
        rows = {
            (r[1] if request.by_tracking_id else r[0]): r
            for r in query.rows(conn, request.ids, account_id, lock=True)
        }
        open_ids = [r[0] for r in rows.values() if not is_final(r[2])]
        newest: dict[str, tuple[str, int, str]] = {}
        held: set[str] = set()
        if open_ids:
            for message_id, attempt_id, step, status in _NEWEST_ATTEMPTS.rows(conn, open_ids):
                newest[message_id] = (attempt_id, step, status)
            held = {
                message_id
                for message_id, lease_until in _LEASES.rows(conn, open_ids, lock=True)
                if lease_until is not None and lease_until > now
            }
        decisions: dict[str, CancelDecision] = {}
        stored: dict[str, _Stored] = {}
        for (
            message_id,
            tracking_id,
            status,
            step,
            channel,
            reason,
            requested,
            surface,
        ) in rows.values():
            state = CancelState(
                message_id,
                status,
                step,
                channel,
                reason,
                newest.get(message_id),
                held=message_id in held,
                requested=requested is not None,
            )
            decisions[message_id] = decide_cancel(state, now)
            stored[message_id] = (status, account_id, tracking_id, surface)
        self._write_decisions(conn, decisions, stored, now)
        outcomes: list[CancelOutcome] = []
        for asked in request.ids:
            row = rows.get(asked)
            if row is None:
                outcomes.append(CancelOutcome(asked, CancelAnswer.NOT_FOUND))
            else:
                outcomes.append(CancelOutcome(asked, decisions[row[0]].answer, row[0]))
        return outcomes

    def _write_decisions(
        self,
        conn: Connection,
        decisions: Mapping[str, CancelDecision],
        stored: Mapping[str, _Stored],
        now: int,
    ) -> None:
        _END_ATTEMPT.run(
            conn,
            [
                (c.status, c.reason, c.finished_at_ms, c.id)
                for d in decisions.values()
                if (c := d.attempt_change) is not None
            ],
        )
        changes = [d.change for d in decisions.values() if d.change is not None]
        if changes:
            self._change_messages(conn, changes, now, stored)
        _MARK.run(conn, [(now, now, message_id) for message_id, d in decisions.items() if d.mark])
