"""Delivery reports: matched to their attempts set-wise, applied by the domain's rule
(`cascade.domain.lifecycle.apply_report`), kept while they match nothing yet or their
message is held under a lease, and matched again later."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cascade.domain.events import DeliveryReport
from cascade.domain.lifecycle import (
    AttemptState,
    AttemptStatus,
    MessageState,
    Report,
    ReportFate,
    apply_report,
)
from cascade.domain.records import MessageChange
from cascade.observer import NO_OBSERVER, Observer
from cascade.store import schema as t
from cascade.store.bulk import Bulk, ByIds
from cascade.store.sql.changes import MessageChanges, _Stored

_WAKE_TASK = Bulk("UPDATE tasks SET due_at = ? WHERE message_id = ?")
_ORPHANS = ByIds(
    "SELECT id, channel, provider_message_id, state, at, reason, recipient, text_prefix, "
    "attempt_id FROM orphan_reports WHERE provider_message_id {ids} ORDER BY id"
)
_DELETE_ORPHAN = Bulk("DELETE FROM orphan_reports WHERE id = ?")
ReportedState = Literal["delivered", "read", "failed"]


class Reports(MessageChanges):
    # told of each step a report ends, with the time from its send (the metrics'
    # step time to report); set by the composition root
    observer: Observer = NO_OBSERVER

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
        attempt_id: str | None = None,
    ) -> bool:
        """Apply a provider's delivery report; one that matches no attempt yet is kept.

        A report naming its recipient (and text) may settle a send left in doubt, whose
        provider id was never learnt: the attempt adopts the id, and a message that ended
        IN_DOUBT ends as the report says.
        """
        report = DeliveryReport(
            channel, provider_id, state, at_ms, reason, recipient, text_prefix, attempt_id
        )
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
        fates = self._apply_or_adopt(conn, reports, now)
        # kept: those that match nothing yet, and those waiting for a lease to end
        orphans = [r for r, v in zip(reports, fates, strict=True) if v != ReportFate.APPLIED]
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
                        "attempt_id": r.attempt_id,
                    }
                    for r in orphans
                ],
            )
        return [v != ReportFate.NO_ATTEMPT for v in fates]

    def _apply_or_adopt(
        self, conn: Connection, reports: Sequence[DeliveryReport], now: int
    ) -> list[ReportFate]:
        """Apply reports; one whose id no attempt has, but that names its recipient, is
        given to the send in doubt it can only be about, and applied then."""
        fates = self._apply_reports(conn, reports, now)
        adopted = [
            i
            for i, r in enumerate(reports)
            if fates[i] == ReportFate.NO_ATTEMPT
            and (r.recipient is not None or r.attempt_id is not None)
            and self._adopt_in_doubt(conn, r)
        ]
        if adopted:
            again = self._apply_reports(conn, [reports[i] for i in adopted], now)
            for i, verdict in zip(adopted, again, strict=True):
                fates[i] = verdict
        return fates

    def _adopt_in_doubt(self, conn: Connection, report: DeliveryReport) -> bool:
        """Give the report's id to the one in-doubt attempt it can only be about: the one
        it names by our own reference, else the one of its recipient (and text)."""
        a = t.attempts.c
        m = t.messages.c
        in_doubt = sa.and_(
            a.channel == report.channel,
            a.status == AttemptStatus.UNKNOWN,
            a.provider_message_id.is_(None),
        )
        if report.attempt_id is not None:
            named = conn.execute(sa.select(a.id).where(in_doubt, a.id == report.attempt_id))
            return self._adopt(conn, report, [row[0] for row in named])
        candidates = [
            attempt_id
            for attempt_id, text in conn.execute(
                sa.select(a.id, m.text)
                .join(t.messages, m.id == a.message_id)
                .where(in_doubt, m.phone == report.recipient)
            )
            if report.text_prefix is None or (text or "").startswith(report.text_prefix)
        ]
        return self._adopt(conn, report, candidates)

    def _adopt(self, conn: Connection, report: DeliveryReport, candidates: list[str]) -> bool:
        a = t.attempts.c
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
                a.status == AttemptStatus.UNKNOWN,
                a.provider_message_id.is_(None),
                sa.or_(m.phone == o.recipient, a.id == o.attempt_id),
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
                    o.attempt_id,
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
        text prefix, attempt id), oldest first; those that found their attempt go."""
        if not rows:
            return
        reports = [DeliveryReport(*r[1:]) for r in rows]
        fates = self._apply_or_adopt(conn, reports, now)
        _DELETE_ORPHAN.run(
            conn, [(r[0],) for r, v in zip(rows, fates, strict=True) if v == ReportFate.APPLIED]
        )

    def _apply_reports(
        self, conn: Connection, reports: Sequence[DeliveryReport], now: int
    ) -> list[ReportFate]:
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
        fates: list[ReportFate] = []
        for report in reports:
            key = (report.channel, report.provider_id)
            ref = found.refs.get(key)
            attempt = (
                found.attempts.get(ref.attempt_id)
                if ref is not None
                else found.by_provider_id.get(key)
            )
            if attempt is None:
                fates.append(ReportFate.NO_ATTEMPT)
                continue
            if attempt.message_id in found.held:
                fates.append(ReportFate.HELD)
                continue
            fates.append(ReportFate.APPLIED)
            open_before = attempt.finished_at is None
            change = _report_effect(report, ref, attempt, found.messages.get(attempt.message_id))
            if open_before and attempt.finished_at is not None:
                seconds = max(0, attempt.finished_at - attempt.started_at) / 1000
                self.observer.step_reported(attempt.channel, attempt.status, seconds)
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
        return fates


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
    "parts_delivered, reason, finished_at, started_at FROM attempts WHERE "
)
_ATTEMPTS = ByIds(_ATTEMPT_SELECT + "id {ids}")
_ATTEMPTS_BY_PROVIDER = ByIds(_ATTEMPT_SELECT + "channel = ? AND provider_message_id {ids}")
_MESSAGES = ByIds(
    "SELECT id, status, step, channel, reason, account_id, tracking_id, surface "
    "FROM messages WHERE id {ids}"
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
    started_at: int
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
                surface,
            ) in _MESSAGES.rows(conn, message_ids, lock=True):
                messages[message_id] = _Message(status, step, channel, reason)
                stored[message_id] = (status, account_id, tracking_id, surface)
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
        Report.of(report, ref.delivered if ref is not None else None),
        AttemptState.of(attempt),
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
