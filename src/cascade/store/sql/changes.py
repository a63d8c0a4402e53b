"""A message's change of state: its row, its task, and the status-webhook events it owes
(one per active callback of its account), written in the transaction that changes it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cascade.domain.records import MessageChange
from cascade.domain.surfaces import owes_event, status_event
from cascade.store import schema as t
from cascade.store.bulk import Bulk, ByIds
from cascade.store.sql.database import Database

_CHANGE_MESSAGE = Bulk(
    "UPDATE messages SET status = ?, step = ?, channel = ?, reason = ?, "
    "expires_at = COALESCE(?, expires_at), skipped = COALESCE(?, skipped), updated_at = ? "
    "WHERE id = ?"
)
_RESCHEDULE_TASK = Bulk(
    "UPDATE tasks SET due_at = ?, tries = ?, lease_owner = NULL, lease_until = NULL "
    "WHERE message_id = ?"
)
_CURRENT_MESSAGES = ByIds(
    "SELECT id, status, account_id, tracking_id, surface FROM messages WHERE id {ids}"
)
_Stored = tuple[str, str, str, str]  # a message's status, account id, tracking id, surface
_END_TASK = Bulk("DELETE FROM tasks WHERE message_id = ?")


class MessageChanges(Database):
    def _change_messages(
        self,
        conn: Connection,
        changes: Sequence[MessageChange],
        now: int,
        stored: Mapping[str, _Stored] | None = None,
    ) -> None:
        """`stored`: the messages' (status, account id, tracking id, surface) as stored, when the
        caller has read them in this transaction already."""
        rows = [c for c in changes if c.store_message]
        tasks = [c for c in changes if c.store_task]
        hooks = self._hooks(conn) if rows else {}
        # status changes owed to status webhooks: compare with what is stored
        current: Mapping[str, _Stored] = {}
        if hooks and stored is not None:
            current = stored
        elif hooks:
            ids = [c.message_id for c in rows]
            current = {r[0]: r[1:] for r in _CURRENT_MESSAGES.rows(conn, ids)}
        _CHANGE_MESSAGE.run(
            conn,
            [
                (
                    c.status,
                    c.step,
                    c.channel,
                    c.reason,
                    c.expires_at_ms,
                    c.skipped,
                    now,
                    c.message_id,
                )
                for c in rows
            ],
        )
        _END_TASK.run(conn, [(c.message_id,) for c in tasks if c.due_at_ms is None])
        _RESCHEDULE_TASK.run(
            conn,
            [(c.due_at_ms, c.tries, c.message_id) for c in tasks if c.due_at_ms is not None],
        )
        events = [
            (c, current[c.message_id])
            for c in rows
            if c.message_id in current
            and owes_event(current[c.message_id][3], current[c.message_id][0], c.status, c.reason)
        ]
        if events:
            self._emit(conn, events, hooks, now)
        if any(c.due_at_ms is not None and c.due_at_ms <= now for c in tasks):
            self._notify(conn)

    def _hooks(self, conn: Connection) -> dict[str, list[str]]:
        """The active status-webhook callbacks, by account: read once per transaction
        (SQLite's writer runs many pieces of work in one)."""
        transaction = conn.get_transaction()
        cached = conn.info.get("cascade_hooks")
        if cached is not None and cached[0] is transaction:
            return cached[1]  # type: ignore[no-any-return]
        cb = t.callbacks.c
        hooks: dict[str, list[str]] = {}
        for callback_id, account_id in conn.execute(
            sa.select(cb.id, cb.account_id).where(cb.revoked_at.is_(None))
        ):
            hooks.setdefault(account_id, []).append(callback_id)
        conn.info["cascade_hooks"] = (transaction, hooks)
        return hooks

    def _emit(
        self,
        conn: Connection,
        events: Sequence[tuple[MessageChange, _Stored]],
        hooks: dict[str, list[str]],
        now: int,
    ) -> None:
        """Owe each active callback of the message's account one event per status change,
        in the shape of the surface the message came through."""
        m = t.messages.c
        rows: list[dict[str, object]] = []
        for change, (_, account_id, tracking_id, surface) in events:
            if account_id not in hooks:
                continue
            message_id = change.message_id
            # the increment runs under the row's write lock, so numbers never repeat
            seq = (
                conn.execute(
                    t.messages.update()
                    .where(m.id == message_id)
                    .values(event_seq=m.event_seq + 1)
                    .returning(m.event_seq)
                )
            ).scalar_one()
            payload = msgspec.json.encode(
                status_event(
                    surface,
                    message_id=message_id,
                    tracking_id=tracking_id,
                    status=change.status,
                    channel=change.channel,
                    reason=change.reason,
                    seq=seq,
                    at_ms=now,
                )
            ).decode()
            rows.extend(
                {
                    "callback_id": h,
                    "message_id": message_id,
                    "seq": seq,
                    "payload": payload,
                    "due_at": now,
                }
                for h in hooks[account_id]
            )
        if rows:
            conn.execute(t.callback_events.insert(), rows)
