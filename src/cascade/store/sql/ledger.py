"""The delivery ledger: claiming due work, committing the engine's transitions and send
intents.

Claiming moves a task's `due_at` one lease ahead and records the owner: a worker that
dies simply lets that time pass, and the task is due again for anyone. PostgreSQL claims
with FOR UPDATE SKIP LOCKED so workers never wait on each other; SQLite's single writer
makes every claim exclusive anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cascade.domain.content import decode_plan
from cascade.domain.lifecycle import AttemptStatus
from cascade.domain.records import (
    AttemptChange,
    AttemptRow,
    Claimed,
    Lease,
    NewAttempt,
    Transition,
)
from cascade.store import schema as t
from cascade.store.base import UnderLease, messages_written, under_lease
from cascade.store.bulk import Bulk, ByIds
from cascade.store.sql.reports import Reports
from cascade.store.sql.verification import Verification

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
_CLAIMED_MESSAGES = ByIds(
    "SELECT m.id, m.account_id, m.tracking_id, m.route, m.message_type, m.phone, m.text, "
    "m.from_name, m.survey_options, m.status, m.step, m.expires_at, m.pinned_bots, "
    "m.event_seq, m.fallback, m.media, a.channel_order, m.skipped, m.plan, "
    "m.cancel_requested_at "
    "FROM messages AS m JOIN accounts AS a ON a.id = m.account_id WHERE m.id {ids}"
)
_CLAIMED_ATTEMPTS = ByIds(
    "SELECT message_id, id, step, channel, status, reason, sender_id, address, "
    "provider_message_id, started_at, window_ends_at FROM attempts WHERE message_id {ids} "
    "ORDER BY message_id, step, started_at"
)
_ATTEMPT_MESSAGES = ByIds("SELECT id, message_id FROM attempts WHERE id {ids}")
_LOCK_MESSAGES = ByIds("SELECT id FROM messages WHERE id {ids} ORDER BY id")
_HOLDERS = ByIds(
    "SELECT message_id, lease_owner, lease_until FROM tasks WHERE message_id {ids} "
    "ORDER BY message_id"
)
_ATTEMPT_CHANNELS = ByIds("SELECT id, channel FROM attempts WHERE id {ids}")
_NONE: dict[str, str] = {}


class Ledger(Reports, Verification):
    """Claims and transitions; a transition that teaches an attempt its provider ids
    applies the reports kept for them (`Reports`), and one that sends a flash call stores
    its code (`Verification`)."""

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
            pinned_bots,
            event_seq,
            fallback_json,
            media_json,
            channel_order,
            skipped,
            plan,
            cancel_requested_at,
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
                    pinned_bots=tuple(pinned_bots.split(",")) if pinned_bots else (),
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
                    plan=decode_plan(plan) if plan else (),
                    cancel_requested=cancel_requested_at is not None,
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

    async def open_tasks(self, message_ids: Iterable[str]) -> set[str]:
        """Which of these messages still have their task (due, or held under a lease):
        a message without one can no longer be claimed (read only)."""
        ids = list(message_ids)
        if not ids:
            return set()
        k = t.tasks.c
        async with self._read() as conn:
            found = await conn.execute(sa.select(k.message_id).where(k.message_id.in_(ids)))
        return {row[0] for row in found}

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
        lease: Lease | None = None,
    ) -> frozenset[str]:
        """Commit `sending` attempts, after the `plans` that led to them (the steps
        skipped on the way, the message's new step): from here on a crash leaves these
        sends in doubt. `results`, applied last, settle attempts in the same transaction
        (a send that ended before it left is recorded with its outcome at once).

        Under a `lease`, only the messages whose task that claim still holds are written;
        the others' ids are returned, refused (another claim has taken them)."""
        if not new and not resent and not plans and not results:
            return frozenset()
        now = self._clock.now_ms()

        def work(conn: Connection) -> frozenset[str]:
            nonlocal new, resent, plans, results
            refused: frozenset[str] = frozenset()
            if lease is not None:
                new, resent, plans, results, refused = self._under_lease(
                    conn, lease, new, resent, plans, results
                )
            if plans:
                self._apply(conn, plans, now)
            self._insert_attempts(conn, new)
            _RESEND.run(conn, [(AttemptStatus.SENDING, c.id) for c in resent])
            if results:
                self._apply(conn, results, now)
            return refused

        return await self._transact(work)

    def _under_lease(
        self,
        conn: Connection,
        lease: Lease,
        new: Sequence[NewAttempt],
        resent: Sequence[AttemptChange],
        plans: Sequence[Transition],
        results: Sequence[Transition],
    ) -> UnderLease:
        """Lock the messages written, then their tasks (the order every engine writer
        takes), and keep what this claim still holds: a claim after this transaction sees
        what it wrote; one before it has changed the task's lease, and is not this one."""
        message_of = dict(_ATTEMPT_MESSAGES.rows(conn, [c.id for c in resent])) if resent else {}
        ids = sorted(messages_written(new, resent, (*plans, *results), message_of))
        if self.dialect == "postgresql":  # SQLite's one writer holds every row already
            _LOCK_MESSAGES.rows(conn, ids, lock=True)
        held = {
            message_id
            for message_id, owner, until in _HOLDERS.rows(conn, ids, lock=True)
            if owner == lease.owner and until == lease.until_ms
        }
        return under_lease(ids, held, message_of, new, resent, plans, results)

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
