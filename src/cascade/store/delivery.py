"""The store's delivery side: claiming due work, committing transitions, matching reports.

Claiming moves a task's `due_at` one lease ahead and records the owner: a worker that
dies simply lets that time pass, and the task is due again for anyone. PostgreSQL claims
with FOR UPDATE SKIP LOCKED so workers never wait on each other; SQLite's single writer
makes every claim exclusive anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from cascade.clock import Clock
from cascade.domain.events import DeliveryReport
from cascade.domain.lifecycle import (
    AttemptState,
    MessageState,
    Report,
    ReportState,
    apply_report,
)
from cascade.store import schema as t
from cascade.store.base import (
    WAKE_CHANNEL,
    AttemptChange,
    AttemptRow,
    Claimed,
    Contact,
    MessageChange,
    NewAttempt,
    SenderRow,
    Transition,
)
from cascade.store.bulk import Bulk, ByIds

_BOT_CHANNEL = {"telegram": "telegram", "viber": "viber_bot"}

# the rows the engine writes by the thousand (see store/bulk.py)
_INSERT_ATTEMPT = Bulk(
    "INSERT INTO attempts (id, message_id, step, channel, status, reason, sender_id, "
    "address, started_at, finished_at, parts_delivered) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)"
)
_RESEND = Bulk("UPDATE attempts SET status = ? WHERE id = ?")
_CHANGE_ATTEMPT = Bulk(
    "UPDATE attempts SET status = ?, reason = ?, "
    "provider_message_id = COALESCE(?, provider_message_id), finished_at = ?, "
    "window_ends_at = ?, parts = COALESCE(?, parts), detail = COALESCE(?, detail) WHERE id = ?"
)
_INSERT_REF = Bulk(
    "INSERT INTO provider_refs (channel, provider_message_id, attempt_id, delivered) "
    "VALUES (?, ?, ?, ?)"
)
_CHANGE_MESSAGE = Bulk(
    "UPDATE messages SET status = ?, step = ?, channel = ?, reason = ?, "
    "expires_at = COALESCE(?, expires_at), skipped = COALESCE(?, skipped), updated_at = ? "
    "WHERE id = ?"
)
_RESCHEDULE_TASK = Bulk(
    "UPDATE tasks SET due_at = ?, tries = ?, lease_owner = NULL, lease_until = NULL "
    "WHERE message_id = ?"
)
_CLAIMED_MESSAGES = ByIds(
    "SELECT m.id, m.account_id, m.tracking_id, m.route, m.message_type, m.phone, m.text, "
    "m.from_name, m.survey_options, m.status, m.step, m.expires_at, m.telegram_bot_id, "
    "m.viber_bot_id, m.event_seq, m.fallback, m.media, a.channel_order, m.skipped "
    "FROM messages AS m JOIN accounts AS a ON a.id = m.account_id WHERE m.id {ids}"
)
_CLAIMED_ATTEMPTS = ByIds(
    "SELECT message_id, id, step, channel, status, reason, sender_id, address, "
    "provider_message_id, started_at, window_ends_at FROM attempts WHERE message_id {ids} "
    "ORDER BY message_id, step, started_at"
)
_CURRENT_MESSAGES = ByIds("SELECT id, status, account_id, tracking_id FROM messages WHERE id {ids}")
_Stored = tuple[str, str, str]  # a message's status, account id, tracking id
_Verdict = Literal["applied", "unknown", "held"]  # what became of a delivery report
_END_TASK = Bulk("DELETE FROM tasks WHERE message_id = ?")
_WAKE_TASK = Bulk("UPDATE tasks SET due_at = ? WHERE message_id = ?")
_ORPHANS = ByIds(
    "SELECT id, channel, provider_message_id, state, at, reason, recipient, text_prefix "
    "FROM orphan_reports WHERE provider_message_id {ids} ORDER BY id"
)
_DELETE_ORPHAN = Bulk("DELETE FROM orphan_reports WHERE id = ?")
_ATTEMPT_CHANNELS = ByIds("SELECT id, channel FROM attempts WHERE id {ids}")
_NONE: dict[str, str] = {}
ReportedState = Literal["delivered", "read", "failed"]
T = TypeVar("T")


class DeliveryQueries:
    """Mixed into SqlStore, which provides the engines and the clock."""

    dialect: str
    _clock: Clock

    def _write(self) -> AbstractAsyncContextManager[AsyncConnection]:
        raise NotImplementedError

    async def _transact(self, work: Callable[[Connection], T]) -> T:
        raise NotImplementedError

    def _read(self) -> AbstractAsyncContextManager[AsyncConnection]:
        raise NotImplementedError

    # --- claiming -------------------------------------------------------------------------

    async def claim(self, owner: str, now_ms: int, lease_ms: int, limit: int) -> list[Claimed]:
        k = t.tasks.c
        due = sa.select(k.message_id).where(k.due_at <= now_ms).order_by(k.due_at).limit(limit)
        if self.dialect == "postgresql":
            due = due.with_for_update(skip_locked=True)
        claim = (
            t.tasks.update()
            .where(k.message_id.in_(due.scalar_subquery()))
            .values(due_at=now_ms + lease_ms, lease_owner=owner, lease_until=now_ms + lease_ms)
            .returning(k.message_id, k.tries)
        )

        def work(conn: Connection) -> list[Claimed]:
            tries = {row[0]: row[1] for row in conn.execute(claim)}
            return self._claimed(conn, tries) if tries else []

        return await self._transact(work)

    def _claimed(self, conn: Connection, tries: dict[str, int]) -> list[Claimed]:
        ids = list(tries)
        # the newest attempt of each message: the row with the greatest start, then id
        newest: dict[str, AttemptRow] = {}
        for r in _CLAIMED_ATTEMPTS.rows(conn, ids):
            newest[r[0]] = AttemptRow(*r[1:])
        decode = msgspec.json.decode
        claimed: list[Claimed] = []
        for (
            message_id,
            account_id,
            tracking_id,
            route,
            message_type,
            phone,
            text,
            from_name,
            survey_options,
            status,
            step,
            expires_at,
            telegram_bot_id,
            viber_bot_id,
            event_seq,
            fallback_json,
            media_json,
            channel_order,
            skipped,
        ) in _CLAIMED_MESSAGES.rows(conn, ids):
            fallback = decode(fallback_json) if fallback_json else _NONE
            media = decode(media_json) if media_json else _NONE
            claimed.append(
                Claimed(
                    message_id=message_id,
                    account_id=account_id,
                    tracking_id=tracking_id,
                    route=route,
                    message_type=message_type,
                    phone=phone,
                    text=text,
                    from_name=from_name,
                    survey_options=tuple(decode(survey_options)) if survey_options else (),
                    status=status,
                    step=step,
                    expires_at_ms=expires_at,
                    telegram_bot_id=telegram_bot_id,
                    viber_bot_id=viber_bot_id,
                    tries=tries[message_id],
                    event_seq=event_seq,
                    last_attempt=newest.get(message_id),
                    fallback_type=fallback.get("messageType"),
                    fallback_text=fallback.get("text"),
                    image_url=media.get("imageUrl"),
                    button_text=media.get("buttonText"),
                    button_url=media.get("buttonUrl"),
                    channel_order=tuple(channel_order.split(",")) if channel_order else None,
                    skipped=skipped,
                )
            )
        return claimed

    async def next_due_ms(self) -> int | None:
        async with self._read() as conn:
            value = (await conn.execute(sa.select(sa.func.min(t.tasks.c.due_at)))).scalar()
        return int(value) if value is not None else None

    async def pending_tasks(self) -> int:
        async with self._read() as conn:
            value = (await conn.execute(sa.select(sa.func.count()).select_from(t.tasks))).scalar()
        return int(value or 0)

    # --- senders and contacts -------------------------------------------------------------

    async def senders(self, account_ids: Iterable[str]) -> list[SenderRow]:
        b = t.bots.c
        async with self._read() as conn:
            rows = await conn.execute(
                sa.select(b.id, b.account_id, b.kind, b.token, b.webhook_secret)
                .where(b.account_id.in_(list(account_ids)), b.revoked_at.is_(None))
                .order_by(b.created_at)
            )
            return [
                SenderRow(r.id, r.account_id, _BOT_CHANNEL[r.kind], r.token, r.webhook_secret)
                for r in rows
            ]

    async def sender(self, sender_id: str) -> SenderRow | None:
        b = t.bots.c
        async with self._read() as conn:
            r = (
                await conn.execute(
                    sa.select(b.id, b.account_id, b.kind, b.token, b.webhook_secret).where(
                        b.id == sender_id, b.revoked_at.is_(None)
                    )
                )
            ).first()
        if r is None:
            return None
        return SenderRow(r.id, r.account_id, _BOT_CHANNEL[r.kind], r.token, r.webhook_secret)

    async def contacts(self, phones: Iterable[str]) -> dict[tuple[str, str, str], Contact]:
        c = t.contacts.c
        phones = list(set(phones))
        found: dict[tuple[str, str, str], Contact] = {}
        async with self._read() as conn:
            for start in range(0, len(phones), 500):
                rows = await conn.execute(
                    sa.select(c.channel, c.sender_id, c.phone, c.address, c.reachable).where(
                        c.phone.in_(phones[start : start + 500])
                    )
                )
                for r in rows:
                    found[(r.channel, r.sender_id, r.phone)] = Contact(r.address, bool(r.reachable))
        return found

    async def link_contact(self, channel: str, sender_id: str, phone: str, address: str) -> None:
        await self.upsert_contacts([(channel, sender_id, phone, address, True)])

    async def upsert_contacts(self, rows: Sequence[tuple[str, str, str, str, bool]]) -> int:
        """Insert or replace contacts (channel, sender_id, phone, address, reachable)."""
        if not rows:
            return 0
        from sqlalchemy.dialects import postgresql, sqlite

        insert = (sqlite if self.dialect == "sqlite" else postgresql).insert(t.contacts)
        statement = insert.on_conflict_do_update(
            index_elements=["channel", "sender_id", "phone"],
            set_={
                "address": insert.excluded.address,
                "reachable": insert.excluded.reachable,
                "updated_at": insert.excluded.updated_at,
            },
        )
        now = self._clock.now_ms()
        values = [
            {
                "channel": ch,
                "sender_id": s,
                "phone": p,
                "address": a,
                "reachable": r,
                "updated_at": now,
            }
            for ch, s, p, a, r in rows
        ]
        async with self._write() as conn:
            await conn.execute(statement, values)
        return len(values)

    async def set_contact_reachable(
        self, channel: str, sender_id: str, address: str, reachable: bool
    ) -> int:
        c = t.contacts.c
        async with self._write() as conn:
            result = await conn.execute(
                t.contacts.update()
                .where(c.channel == channel, c.sender_id == sender_id, c.address == address)
                .values(reachable=reachable, updated_at=self._clock.now_ms())
            )
        return int(result.rowcount)

    async def record_survey_answer(
        self, channel: str, sender_id: str, address: str, answer: str, message_id: str | None
    ) -> bool:
        m = t.messages.c
        async with self._write() as conn:
            if message_id is None:
                # the newest survey sent to this user through this sender
                a = t.attempts.c
                message_id = (
                    await conn.execute(
                        sa.select(a.message_id)
                        .join(t.messages, t.messages.c.id == a.message_id)
                        .where(
                            a.channel == channel,
                            a.sender_id == sender_id,
                            a.address == address,
                            m.message_type == "viber_survey",
                        )
                        .order_by(a.started_at.desc())
                        .limit(1)
                    )
                ).scalar()
                if message_id is None:
                    return False
            result = await conn.execute(
                t.messages.update()
                .where(m.id == message_id, m.message_type == "viber_survey")
                .values(survey_answer=answer, updated_at=self._clock.now_ms())
            )
        return bool(result.rowcount)

    # --- transitions ----------------------------------------------------------------------

    async def apply(self, transitions: Sequence[Transition]) -> None:
        """Commit engine decisions, in one transaction."""
        if not transitions:
            return
        now = self._clock.now_ms()
        await self._transact(lambda conn: self._apply(conn, transitions, now))

    async def record_intents(
        self,
        new: Sequence[NewAttempt],
        resent: Sequence[AttemptChange],
        plans: Sequence[Transition] = (),
        results: Sequence[Transition] = (),
    ) -> None:
        """Commit `sending` attempts, after the `plans` that led to them (the steps
        skipped on the way, the message's new step): from here on a crash leaves these
        sends in doubt. `results`, applied last, settle attempts in the same transaction
        (a send that ended before it left is recorded with its outcome at once)."""
        if not new and not resent and not plans and not results:
            return
        now = self._clock.now_ms()

        def work(conn: Connection) -> None:
            if plans:
                self._apply(conn, plans, now)
            self._insert_attempts(conn, new)
            _RESEND.run(conn, [("sending", c.id) for c in resent])
            if results:
                self._apply(conn, results, now)

        await self._transact(work)

    def _insert_attempts(self, conn: Connection, new_attempts: Sequence[NewAttempt]) -> None:
        _INSERT_ATTEMPT.run(
            conn,
            [
                (
                    a.id,
                    a.message_id,
                    a.step,
                    a.channel,
                    a.status,
                    a.reason,
                    a.sender_id,
                    a.address,
                    a.started_at_ms,
                    a.finished_at_ms,
                )
                for a in new_attempts
            ],
        )

    def _apply(self, conn: Connection, transitions: Sequence[Transition], now: int) -> None:
        changes = [c for tr in transitions for c in tr.attempt_changes]
        if changes:
            _CHANGE_ATTEMPT.run(
                conn,
                [
                    (
                        c.status,
                        c.reason,
                        c.provider_message_id,
                        c.finished_at_ms,
                        c.window_ends_at_ms,
                        c.parts,
                        c.detail,
                        c.id,
                    )
                    for c in changes
                ],
            )
            # a message in one segment is found by its attempt's provider id alone
            self._add_provider_refs(conn, [c for c in changes if len(c.part_ids) > 1])
        for tr in transitions:
            if tr.verification is not None:
                self._set_verification(conn, tr.message.message_id, *tr.verification)
        self._change_messages(conn, [tr.message for tr in transitions], now)
        blocked = [tr.contact_blocked for tr in transitions if tr.contact_blocked]
        if blocked:
            c = t.contacts.c
            conn.execute(
                t.contacts.update()
                .where(
                    c.channel == sa.bindparam("b_channel"),
                    c.sender_id == sa.bindparam("b_sender"),
                    c.address == sa.bindparam("b_address"),
                )
                .values(reachable=False, updated_at=now),
                [{"b_channel": ch, "b_sender": s, "b_address": ad} for ch, s, ad in blocked],
            )
        learnt = {
            pid for c in changes for pid in (c.provider_message_id, *c.part_ids) if pid is not None
        }
        if learnt:
            self._match_orphans_of(conn, learnt, now)

    def _add_provider_refs(self, conn: Connection, changes: Sequence[AttemptChange]) -> None:
        """Remember every id an attempt's segments got, so any segment's receipt finds it."""
        if not changes:
            return
        channel_of = dict(_ATTEMPT_CHANNELS.rows(conn, [c.id for c in changes]))
        _INSERT_REF.run(
            conn,
            [(channel_of[c.id], pid, c.id, False) for c in changes for pid in c.part_ids],
        )

    def _set_verification(
        self, conn: Connection, message_id: str, hashed: str, attempts: int, expires: int
    ) -> None:
        v = t.verifications.c
        conn.execute(t.verifications.delete().where(v.message_id == message_id))
        conn.execute(
            t.verifications.insert().values(
                message_id=message_id,
                code_hash=hashed,
                attempts_left=attempts,
                expires_at=expires,
            )
        )

    def _change_messages(
        self,
        conn: Connection,
        changes: Sequence[MessageChange],
        now: int,
        stored: Mapping[str, _Stored] | None = None,
    ) -> None:
        """`stored`: the messages' (status, account id, tracking id) as stored, when the
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
            (
                c.message_id,
                current[c.message_id][1],
                current[c.message_id][2],
                c.status,
                c.channel,
                c.reason,
            )
            for c in rows
            if c.message_id in current and current[c.message_id][0] != c.status
        ]
        if events:
            self._emit(conn, events, hooks, now)
        if any(c.due_at_ms is not None and c.due_at_ms <= now for c in tasks):
            self._notify(conn)

    def _notify(self, conn: Connection) -> None:
        if self.dialect == "postgresql":
            conn.execute(sa.text(f"NOTIFY {WAKE_CHANNEL}"))

    # --- status webhooks ----------------------------------------------------------------

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
        events: Sequence[tuple[str, str, str, str, str | None, str | None]],
        hooks: dict[str, list[str]],
        now: int,
    ) -> None:
        """Owe each active callback of the message's account one event per status change."""
        m = t.messages.c
        rows: list[dict[str, object]] = []
        for message_id, account_id, tracking_id, status, channel, reason in events:
            if account_id not in hooks:
                continue
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
                {
                    "messageId": message_id,
                    "trackinId": tracking_id,
                    "status": status,
                    "channel": channel,
                    "reason": reason,
                    "seq": seq,
                    "at": now,
                }
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

    # --- delivery reports ---------------------------------------------------------------

    async def record_report(
        self,
        channel: str,
        provider_id: str,
        state: ReportedState,
        at_ms: int,
        reason: str | None = None,
        *,
        recipient: str | None = None,
        text_prefix: str | None = None,
    ) -> bool:
        """Apply a provider's delivery report; one that matches no attempt yet is kept.

        A report naming its recipient (and text) may settle a send left in doubt, whose
        provider id was never learnt: the attempt adopts the id, and a message that ended
        IN_DOUBT ends as the report says.
        """
        report = DeliveryReport(channel, provider_id, state, at_ms, reason, recipient, text_prefix)
        return (await self.record_reports([report]))[0]

    async def record_reports(self, reports: Sequence[DeliveryReport]) -> list[bool]:
        """Apply many delivery reports in one transaction (see record_report).

        The group is applied set-wise: one lookup for every attempt the reports name, the
        reports then walked in order over those rows in memory, and one statement per kind
        of change to write the result back.
        """
        if not reports:
            return []
        now = self._clock.now_ms()
        return await self._transact(lambda conn: self._record_reports(conn, reports, now))

    def _record_reports(
        self, conn: Connection, reports: Sequence[DeliveryReport], now: int
    ) -> list[bool]:
        verdicts = self._apply_or_adopt(conn, reports, now)
        # kept: those that match nothing yet, and those waiting for a lease to end
        orphans = [r for r, v in zip(reports, verdicts, strict=True) if v != "applied"]
        if orphans:
            conn.execute(
                t.orphan_reports.insert(),
                [
                    {
                        "channel": r.channel,
                        "provider_message_id": r.provider_id,
                        "state": r.state,
                        "reason": r.reason,
                        "at": r.at_ms,
                        "recipient": r.recipient,
                        "text_prefix": r.text_prefix,
                    }
                    for r in orphans
                ],
            )
        return [v != "unknown" for v in verdicts]

    def _apply_or_adopt(
        self, conn: Connection, reports: Sequence[DeliveryReport], now: int
    ) -> list[_Verdict]:
        """Apply reports; one whose id no attempt has, but that names its recipient, is
        given to the send in doubt it can only be about, and applied then."""
        verdicts = self._apply_reports(conn, reports, now)
        adopted = [
            i
            for i, r in enumerate(reports)
            if verdicts[i] == "unknown"
            and r.recipient is not None
            and self._adopt_in_doubt(conn, r)
        ]
        if adopted:
            again = self._apply_reports(conn, [reports[i] for i in adopted], now)
            for i, verdict in zip(adopted, again, strict=True):
                verdicts[i] = verdict
        return verdicts

    def _adopt_in_doubt(self, conn: Connection, report: DeliveryReport) -> bool:
        """Give the report's id to the one in-doubt attempt it can only be about."""
        a = t.attempts.c
        m = t.messages.c
        candidates = [
            attempt_id
            for attempt_id, text in conn.execute(
                sa.select(a.id, m.text)
                .join(t.messages, m.id == a.message_id)
                .where(
                    a.channel == report.channel,
                    a.status == "unknown",
                    a.provider_message_id.is_(None),
                    m.phone == report.recipient,
                )
            )
            if report.text_prefix is None or (text or "").startswith(report.text_prefix)
        ]
        if len(candidates) != 1:
            return False  # none, or ambiguous: never guess
        conn.execute(
            t.attempts.update()
            .where(a.id == candidates[0])
            .values(provider_message_id=report.provider_id)
        )
        return True

    async def match_orphans(self) -> None:
        now = self._clock.now_ms()
        await self._transact(lambda conn: self._match_orphans(conn, now))

    def _match_orphans(self, conn: Connection, now: int) -> None:
        """Apply every kept report whose id an attempt or a segment now has, or that
        names the recipient of a send now found in doubt."""
        o = t.orphan_reports.c
        a = t.attempts.c
        r = t.provider_refs.c
        m = t.messages.c
        known = sa.or_(
            sa.exists().where(
                a.provider_message_id == o.provider_message_id, a.channel == o.channel
            ),
            sa.exists().where(
                r.provider_message_id == o.provider_message_id, r.channel == o.channel
            ),
            sa.exists()
            .where(
                a.channel == o.channel,
                a.status == "unknown",
                a.provider_message_id.is_(None),
                m.phone == o.recipient,
            )
            .select_from(t.attempts.join(t.messages, m.id == a.message_id)),
        )
        rows = [
            tuple(row)
            for row in conn.execute(
                sa.select(
                    o.id,
                    o.channel,
                    o.provider_message_id,
                    o.state,
                    o.at,
                    o.reason,
                    o.recipient,
                    o.text_prefix,
                )
                .where(known)
                .order_by(o.id)
            )
        ]
        self._apply_orphans(conn, rows, now)

    def _match_orphans_of(self, conn: Connection, provider_ids: set[str], now: int) -> None:
        """Apply the kept reports that name these ids, just learnt (an index lookup)."""
        self._apply_orphans(conn, _ORPHANS.rows(conn, provider_ids), now)

    def _apply_orphans(self, conn: Connection, rows: Sequence[tuple[Any, ...]], now: int) -> None:
        """Apply kept reports (id, channel, provider id, state, at, reason, recipient,
        text prefix), oldest first; those that found their attempt are kept no longer."""
        if not rows:
            return
        reports = [DeliveryReport(*r[1:]) for r in rows]
        verdicts = self._apply_or_adopt(conn, reports, now)
        _DELETE_ORPHAN.run(
            conn, [(r[0],) for r, v in zip(rows, verdicts, strict=True) if v == "applied"]
        )

    def _apply_reports(
        self, conn: Connection, reports: Sequence[DeliveryReport], now: int
    ) -> list[_Verdict]:
        """Apply reports in order; returns, for each, whether it was applied, matched no
        attempt, or waits: its message is held by a worker under a live lease.

        A worker that claimed a message decides from what it read then, and commits that
        decision later; a report applied in between would be overwritten, or would free the
        task to a second claim while the first still acts on it. So the report waits, kept
        like an early one, and is applied once the lease has ended (`match_orphans`).
        """
        found = _ReportRows.load(conn, reports, now)
        finished: list[MessageChange] = []
        woken: set[str] = set()
        verdicts: list[_Verdict] = []
        for report in reports:
            key = (report.channel, report.provider_id)
            ref = found.refs.get(key)
            attempt = (
                found.attempts.get(ref.attempt_id)
                if ref is not None
                else found.by_provider_id.get(key)
            )
            if attempt is None:
                verdicts.append("unknown")
                continue
            if attempt.message_id in found.held:
                verdicts.append("held")
                continue
            verdicts.append("applied")
            change = _report_effect(report, ref, attempt, found.messages.get(attempt.message_id))
            if change == "finish":
                message = found.messages[attempt.message_id]
                finished.append(
                    MessageChange(
                        attempt.message_id,
                        message.status,
                        message.step,
                        message.channel,
                        None,
                        None,
                    )
                )
            elif change == "wake":
                woken.add(attempt.message_id)
        found.write_back(conn)
        if finished:
            self._change_messages(conn, finished, now, found.stored)
        if woken:
            # wake the engine now: it sees the failed attempt and takes the next step
            _WAKE_TASK.run(conn, [(now, message_id) for message_id in woken])
            self._notify(conn)
        return verdicts

    # --- status webhook delivery ----------------------------------------------------------

    async def claim_callback_events(
        self, now_ms: int, lease_ms: int, limit: int
    ) -> list[tuple[int, str, str, str, int]]:
        """Due status-webhook events: (event id, url, secret, payload, tries so far)."""
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
                .order_by(e.message_id, e.seq)
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

    async def add_callback(self, account_id: str, url: str, secret: str) -> str:
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
                )
            )
        return callback_id

    async def list_callbacks(self, account_id: str) -> list[tuple[str, str]]:
        cb = t.callbacks.c
        async with self._read() as conn:
            rows = await conn.execute(
                sa.select(cb.id, cb.url)
                .where(cb.account_id == account_id, cb.revoked_at.is_(None))
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


# --- delivery reports, applied set-wise -------------------------------------------------


_SET_REF_DELIVERED = Bulk(
    "UPDATE provider_refs SET delivered = ? WHERE channel = ? AND provider_message_id = ?"
)
_SET_ATTEMPT_REPORTED = Bulk(
    "UPDATE attempts SET status = ?, reason = ?, finished_at = ?, parts_delivered = ? WHERE id = ?"
)
_REFS = ByIds(
    "SELECT channel, provider_message_id, attempt_id, delivered FROM provider_refs "
    "WHERE channel = ? AND provider_message_id {ids}"
)
_ATTEMPT_SELECT = (
    "SELECT id, message_id, channel, provider_message_id, status, step, parts, "
    "parts_delivered, reason, finished_at FROM attempts WHERE "
)
_ATTEMPTS = ByIds(_ATTEMPT_SELECT + "id {ids}")
_ATTEMPTS_BY_PROVIDER = ByIds(_ATTEMPT_SELECT + "channel = ? AND provider_message_id {ids}")
_MESSAGES = ByIds(
    "SELECT id, status, step, channel, reason, account_id, tracking_id FROM messages WHERE id {ids}"
)
_LEASES = ByIds("SELECT message_id, lease_until FROM tasks WHERE message_id {ids}")


@dataclass(slots=True)
class _Ref:
    attempt_id: str
    delivered: bool
    dirty: bool = False


@dataclass(slots=True)
class _Attempt:
    id: str
    message_id: str
    channel: str
    provider_id: str | None
    status: str
    step: int
    parts: int | None
    parts_delivered: int
    reason: str | None
    finished_at: int | None
    dirty: bool = False


@dataclass(slots=True)
class _Message:
    status: str
    step: int
    channel: str | None
    reason: str | None


@dataclass(slots=True)
class _ReportRows:
    """The rows a group of reports touches, read once and changed in memory."""

    refs: dict[tuple[str, str], _Ref]
    attempts: dict[str, _Attempt]
    by_provider_id: dict[tuple[str, str], _Attempt]
    messages: dict[str, _Message]  # changed in memory as reports apply
    stored: dict[str, _Stored]  # as read, for the status webhooks' comparison
    held: set[str]  # messages a worker holds under a live lease: their reports wait

    @classmethod
    def load(cls, conn: Connection, reports: Sequence[DeliveryReport], now: int) -> _ReportRows:
        by_channel: dict[str, set[str]] = {}
        for r in reports:
            by_channel.setdefault(r.channel, set()).add(r.provider_id)
        refs: dict[tuple[str, str], _Ref] = {}
        for channel, pids in by_channel.items():
            for ref in _REFS.rows(conn, pids, channel):
                refs[(ref[0], ref[1])] = _Ref(ref[2], bool(ref[3]))
        attempts: dict[str, _Attempt] = {}
        if refs:
            for found in _ATTEMPTS.rows(conn, {r.attempt_id for r in refs.values()}, lock=True):
                attempts[found[0]] = _Attempt(*found)
        for channel, pids in by_channel.items():
            unknown = {p for p in pids if (channel, p) not in refs}
            if unknown:
                for found in _ATTEMPTS_BY_PROVIDER.rows(conn, unknown, channel, lock=True):
                    attempts[found[0]] = _Attempt(*found)
        messages: dict[str, _Message] = {}
        stored: dict[str, _Stored] = {}
        held: set[str] = set()
        if attempts:
            message_ids = {x.message_id for x in attempts.values()}
            for (
                message_id,
                status,
                step,
                channel,
                reason,
                account_id,
                tracking_id,
            ) in _MESSAGES.rows(conn, message_ids, lock=True):
                messages[message_id] = _Message(status, step, channel, reason)
                stored[message_id] = (status, account_id, tracking_id)
            # Locked, so a claim either committed before (its lease is seen here) or
            # comes after this transaction: SQLite's one writer runs them in turn, and
            # PostgreSQL's claim skips the locked task this round (SKIP LOCKED).
            held = {
                message_id
                for message_id, lease_until in _LEASES.rows(conn, message_ids, lock=True)
                if lease_until is not None and lease_until > now
            }
        by_provider_id = {
            (x.channel, x.provider_id): x for x in attempts.values() if x.provider_id is not None
        }
        return cls(refs, attempts, by_provider_id, messages, stored, held)

    def write_back(self, conn: Connection) -> None:
        _SET_REF_DELIVERED.run(
            conn, [(True, ch, pid) for (ch, pid), ref in self.refs.items() if ref.dirty]
        )
        _SET_ATTEMPT_REPORTED.run(
            conn,
            [
                (x.status, x.reason, x.finished_at, x.parts_delivered, x.id)
                for x in self.attempts.values()
                if x.dirty
            ],
        )


def _report_effect(
    report: DeliveryReport, ref: _Ref | None, attempt: _Attempt, message: _Message | None
) -> Literal["finish", "wake"] | None:
    """Apply one report to the rows in memory (the rule is the domain's: apply_report);
    what it asks of its message, if anything."""
    effect = apply_report(
        Report(
            ReportState(report.state),
            report.at_ms,
            report.reason,
            report.channel,
            ref.delivered if ref is not None else None,
        ),
        AttemptState(
            attempt.status,
            attempt.step,
            attempt.reason,
            attempt.finished_at,
            attempt.parts,
            attempt.parts_delivered,
        ),
        MessageState(message.status, message.step, message.channel, message.reason)
        if message is not None
        else None,
    )
    if ref is not None and effect.segment_delivered:
        ref.delivered = ref.dirty = True
    after = effect.attempt
    if (after.status, after.reason, after.finished_at_ms, after.parts_delivered) != (
        attempt.status,
        attempt.reason,
        attempt.finished_at,
        attempt.parts_delivered,
    ):
        attempt.status, attempt.reason = after.status, after.reason
        attempt.finished_at, attempt.parts_delivered = after.finished_at_ms, after.parts_delivered
        attempt.dirty = True
    if effect.message is not None and message is not None:
        message.status, message.channel = effect.message.status, effect.message.channel
        message.reason = effect.message.reason
        return "finish"
    return "wake" if effect.wake else None
