"""The in-memory store's engine side: claims, transitions and send intents, a message's
change of state with the status-webhook events it owes, and delivery reports (applied by
the domain's rule, `cascade.domain.lifecycle.apply_report`), as `cascade.store.sql`'s
`ledger`, `changes` and `reports` do."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Literal

import msgspec

from cascade.domain.content import decode_plan
from cascade.domain.events import DeliveryReport
from cascade.domain.lifecycle import (
    AttemptState,
    AttemptStatus,
    MessageState,
    Report,
    ReportFate,
    apply_report,
)
from cascade.domain.records import (
    AttemptChange,
    Claimed,
    Lease,
    MessageChange,
    NewAttempt,
    Transition,
)
from cascade.domain.records import AttemptRow as ClaimedAttempt
from cascade.domain.surfaces import owes_event, status_event
from cascade.store.base import CallbackKind, Conflict, messages_written, under_lease
from cascade.store.memory.records import Records
from cascade.store.memory.tables import (
    AttemptRow,
    CallbackEventRow,
    OrphanRow,
    ProviderRefRow,
    VerificationRow,
)

_Stored = tuple[str, str, str, str]  # a message's status, account id, tracking id, surface
_NONE: dict[str, str] = {}


class Ledger(Records):
    # --- claims -------------------------------------------------------------------------

    async def claim(self, owner: str, now_ms: int, lease_ms: int, limit: int) -> list[Claimed]:
        """Take up to `limit` due tasks, oldest due first, for `lease_ms`: the task's due
        time moves one lease ahead, so it is due again for anyone once the lease ends."""
        due = [k for k in self._t.tasks.values() if k.due_at <= now_ms]
        due.sort(key=lambda k: k.due_at)
        claimed: list[Claimed] = []
        for task in due[:limit]:
            task.due_at = task.lease_until = now_ms + lease_ms
            task.lease_owner = owner
            claimed.append(self._claimed(task.message_id, task.tries))
        return claimed

    def _claimed(self, message_id: str, tries: int) -> Claimed:
        m = self._t.messages[message_id]
        attempts = [a for a in self._t.attempts.values() if a.message_id == message_id]
        attempts.sort(key=lambda a: (a.step, a.started_at))
        newest = attempts[-1] if attempts else None
        decode = msgspec.json.decode
        fallback = decode(m.fallback) if m.fallback else _NONE
        media = decode(m.media) if m.media else _NONE
        account = self._t.accounts.get(m.account_id)
        order = account.channel_order if account else None
        return Claimed(
            message_id=m.id,
            account_id=m.account_id,
            tracking_id=m.tracking_id,
            route=m.route,
            message_type=m.message_type,
            phone=m.phone,
            text=m.text,
            from_name=m.from_name,
            survey_options=tuple(decode(m.survey_options)) if m.survey_options else (),
            status=m.status,
            step=m.step,
            expires_at_ms=m.expires_at,
            pinned_bots=tuple(m.pinned_bots.split(",")) if m.pinned_bots else (),
            tries=tries,
            event_seq=m.event_seq,
            last_attempt=ClaimedAttempt(
                newest.id,
                newest.step,
                newest.channel,
                newest.status,
                newest.reason,
                newest.sender_id,
                newest.address,
                newest.provider_message_id,
                newest.started_at,
                newest.window_ends_at,
            )
            if newest is not None
            else None,
            fallback_type=fallback.get("messageType"),
            fallback_text=fallback.get("text"),
            image_url=media.get("imageUrl"),
            button_text=media.get("buttonText"),
            button_url=media.get("buttonUrl"),
            channel_order=tuple(order.split(",")) if order else None,
            skipped=m.skipped,
            plan=decode_plan(m.plan) if m.plan else (),
            cancel_requested=m.cancel_requested_at is not None,
        )

    async def next_due_ms(self) -> int | None:
        return min((k.due_at for k in self._t.tasks.values()), default=None)

    async def pending_tasks(self) -> int:
        return len(self._t.tasks)

    async def open_tasks(self, message_ids: Iterable[str]) -> set[str]:
        """Which of these messages still have their task (see the SQL store's)."""
        return {m for m in message_ids if m in self._t.tasks}

    # --- transitions and send intents ---------------------------------------------------

    async def apply(self, transitions: Sequence[Transition]) -> None:
        """Commit engine decisions, all or nothing."""
        if not transitions:
            return
        self._check_refs(transitions, ())
        self._apply(transitions, self._clock.now_ms())

    async def record_intents(
        self,
        new: Sequence[NewAttempt],
        resent: Sequence[AttemptChange],
        plans: Sequence[Transition] = (),
        results: Sequence[Transition] = (),
        lease: Lease | None = None,
    ) -> frozenset[str]:
        """Commit `sending` attempts after their `plans`, and `results` last, all or
        nothing; under a `lease`, only for the messages whose task that claim still holds,
        returning the others' ids (see `cascade.store.sql.ledger`)."""
        now = self._clock.now_ms()
        refused: frozenset[str] = frozenset()
        if lease is not None:
            t = self._t
            message_of = {c.id: t.attempts[c.id].message_id for c in resent if c.id in t.attempts}
            written = messages_written(new, resent, (*plans, *results), message_of)
            held = {
                i
                for i in written
                if (task := t.tasks.get(i)) is not None
                and (task.lease_owner, task.lease_until) == (lease.owner, lease.until_ms)
            }
            new, resent, plans, results, refused = under_lease(
                written, held, message_of, new, resent, plans, results
            )
        ids = [a.id for a in new]
        if len(set(ids)) != len(ids) or any(i in self._t.attempts for i in ids):
            raise Conflict("attempt id is taken")
        self._check_refs((*plans, *results), new)
        if plans:
            self._apply(plans, now)
        for a in new:
            self._t.attempts[a.id] = AttemptRow(
                id=a.id,
                message_id=a.message_id,
                step=a.step,
                channel=a.channel,
                status=a.status,
                reason=a.reason,
                sender_id=a.sender_id,
                address=a.address,
                started_at=a.started_at_ms,
                finished_at=a.finished_at_ms,
            )
        for c in resent:
            if c.id in self._t.attempts:
                self._t.attempts[c.id].status = AttemptStatus.SENDING
        if results:
            self._apply(results, now)
        return refused

    def _check_refs(self, transitions: Sequence[Transition], new: Sequence[NewAttempt]) -> None:
        """Refuse, before anything changes, segment ids the provider_refs key has."""
        channels = {a.id: a.channel for a in new}
        seen: set[tuple[str, str]] = set()
        for tr in transitions:
            for c in tr.attempt_changes:
                if len(c.part_ids) <= 1:
                    continue
                attempt = self._t.attempts.get(c.id)
                channel = attempt.channel if attempt else channels.get(c.id)
                if channel is None:
                    raise Conflict(f"no attempt {c.id} for its segments")
                for pid in c.part_ids:
                    key = (pid, channel)
                    if key in seen or key in self._t.provider_refs:
                        raise Conflict(f"segment id {pid} is taken")
                    seen.add(key)

    def _apply(self, transitions: Sequence[Transition], now: int) -> None:
        t = self._t
        changes = [c for tr in transitions for c in tr.attempt_changes]
        for c in changes:
            a = t.attempts.get(c.id)
            if a is None:
                continue
            a.status, a.reason = c.status, c.reason
            self._set_provider_id(a, c.provider_message_id)
            a.finished_at, a.window_ends_at = c.finished_at_ms, c.window_ends_at_ms
            a.parts = c.parts if c.parts is not None else a.parts
            a.detail = c.detail if c.detail is not None else a.detail
            if len(c.part_ids) > 1:  # one segment is found by the attempt's own id
                for pid in c.part_ids:
                    t.provider_refs[(pid, a.channel)] = ProviderRefRow(
                        channel=a.channel, provider_message_id=pid, attempt_id=a.id
                    )
        for tr in transitions:
            if tr.verification is not None:
                hashed, attempts, expires = tr.verification
                message_id = tr.message.message_id
                t.verifications[message_id] = VerificationRow(
                    message_id=message_id,
                    code_hash=hashed,
                    attempts_left=attempts,
                    expires_at=expires,
                )
        self._change_messages([tr.message for tr in transitions], now)
        for tr in transitions:
            if tr.contact_blocked:
                self._set_reachable(*tr.contact_blocked, False, now)
        learnt = {
            pid for c in changes for pid in (c.provider_message_id, *c.part_ids) if pid is not None
        }
        if learnt:
            kept = [o for o in t.orphan_reports.values() if o.provider_message_id in learnt]
            self._apply_orphans(kept, now)

    # --- a message's change of state ----------------------------------------------------

    def _change_messages(
        self,
        changes: Sequence[MessageChange],
        now: int,
        stored: Mapping[str, _Stored] | None = None,
    ) -> None:
        """Write the messages' new state and tasks; owe each active callback of the
        account one event per status change (compared with `stored`, or as stored now)."""
        t = self._t
        rows = [c for c in changes if c.store_message]
        if stored is None:
            stored = {
                c.message_id: (m.status, m.account_id, m.tracking_id, m.surface)
                for c in rows
                if (m := t.messages.get(c.message_id)) is not None
            }
        for c in rows:
            m = t.messages.get(c.message_id)
            if m is None:
                continue
            m.status, m.step, m.channel, m.reason = c.status, c.step, c.channel, c.reason
            m.expires_at = c.expires_at_ms if c.expires_at_ms is not None else m.expires_at
            m.skipped = c.skipped if c.skipped is not None else m.skipped
            m.updated_at = now
        for c in changes:
            if not c.store_task:
                continue
            if c.due_at_ms is None:
                t.tasks.pop(c.message_id, None)
            elif (task := t.tasks.get(c.message_id)) is not None:
                task.due_at, task.tries = c.due_at_ms, c.tries
                task.lease_owner = task.lease_until = None
        hooks: dict[str, list[str]] = {}
        for cb in t.callbacks.values():
            if cb.revoked_at is None and cb.kind == CallbackKind.STATUS:
                hooks.setdefault(cb.account_id, []).append(cb.id)
        for c in rows:
            before = stored.get(c.message_id)
            if before is None or before[1] not in hooks:
                continue
            if not owes_event(before[3], before[0], c.status, c.reason):
                continue
            m = t.messages[c.message_id]
            m.event_seq += 1
            payload = msgspec.json.encode(
                status_event(
                    before[3],
                    message_id=c.message_id,
                    tracking_id=before[2],
                    status=c.status,
                    channel=c.channel,
                    reason=c.reason,
                    seq=m.event_seq,
                    at_ms=now,
                )
            ).decode()
            for callback_id in hooks[before[1]]:
                event_id = next(t.serial)
                t.callback_events[event_id] = CallbackEventRow(
                    id=event_id,
                    callback_id=callback_id,
                    message_id=c.message_id,
                    seq=m.event_seq,
                    payload=payload,
                    due_at=now,
                )

    # --- delivery reports ---------------------------------------------------------------

    async def record_report(
        self,
        channel: str,
        provider_id: str,
        state: Literal["delivered", "read", "failed"],
        at_ms: int,
        reason: str | None = None,
        *,
        recipient: str | None = None,
        text_prefix: str | None = None,
        attempt_id: str | None = None,
    ) -> bool:
        """Apply a provider's delivery report; one that matches no attempt yet is kept."""
        report = DeliveryReport(
            channel, provider_id, state, at_ms, reason, recipient, text_prefix, attempt_id
        )
        return (await self.record_reports([report]))[0]

    async def record_reports(self, reports: Sequence[DeliveryReport]) -> list[bool]:
        """Apply delivery reports in order; those that match nothing yet, or whose message
        a worker holds under a live lease, are kept (see `cascade.store.sql.reports`)."""
        if not reports:
            return []
        fates = self._apply_or_adopt(reports, self._clock.now_ms())
        for r, v in zip(reports, fates, strict=True):
            if v != ReportFate.APPLIED:
                orphan_id = next(self._t.serial)
                self._t.orphan_reports[orphan_id] = OrphanRow(
                    id=orphan_id,
                    channel=r.channel,
                    provider_message_id=r.provider_id,
                    state=r.state,
                    reason=r.reason,
                    at=r.at_ms,
                    recipient=r.recipient,
                    text_prefix=r.text_prefix,
                    attempt_id=r.attempt_id,
                )
        return [v != ReportFate.NO_ATTEMPT for v in fates]

    async def match_orphans(self) -> None:
        """Apply every kept report whose id an attempt or a segment now has, or that names
        the recipient of a send now found in doubt."""
        t = self._t
        in_doubt = [
            a
            for a in t.attempts.values()
            if a.status == AttemptStatus.UNKNOWN
            and a.provider_message_id is None
            and a.message_id in t.messages
        ]
        doubted = {(a.channel, t.messages[a.message_id].phone) for a in in_doubt}
        doubted_ids = {(a.channel, a.id) for a in in_doubt}
        known = [
            o
            for o in t.orphan_reports.values()
            if (o.channel, o.provider_message_id) in t.by_provider
            or (o.provider_message_id, o.channel) in t.provider_refs
            or (o.channel, o.recipient) in doubted
            or (o.channel, o.attempt_id) in doubted_ids
        ]
        self._apply_orphans(known, self._clock.now_ms())

    def _apply_orphans(self, kept: Sequence[OrphanRow], now: int) -> None:
        """Apply kept reports, oldest first; those that found their attempt go."""
        kept = sorted(kept, key=lambda o: o.id)
        if not kept:
            return
        reports = [
            DeliveryReport(
                o.channel,
                o.provider_message_id,
                o.state,  # type: ignore[arg-type]  # stored from a DeliveryReport
                o.at,
                o.reason,
                o.recipient,
                o.text_prefix,
                o.attempt_id,
            )
            for o in kept
        ]
        fates = self._apply_or_adopt(reports, now)
        for o, v in zip(kept, fates, strict=True):
            if v == ReportFate.APPLIED:
                del self._t.orphan_reports[o.id]

    def _apply_or_adopt(self, reports: Sequence[DeliveryReport], now: int) -> list[ReportFate]:
        """Apply reports; one whose id no attempt has, but that names its recipient, is
        given to the one send in doubt it can only be about, and applied then."""
        fates = self._apply_reports(reports, now)
        adopted = [
            i
            for i, r in enumerate(reports)
            if fates[i] == ReportFate.NO_ATTEMPT
            and (r.recipient is not None or r.attempt_id is not None)
            and self._adopt_in_doubt(r)
        ]
        if adopted:
            again = self._apply_reports([reports[i] for i in adopted], now)
            for i, verdict in zip(adopted, again, strict=True):
                fates[i] = verdict
        return fates

    def _adopt_in_doubt(self, report: DeliveryReport) -> bool:
        """Give the report's id to the one in-doubt attempt it can only be about: the one
        it names by our own reference, else the one of its recipient (and text)."""
        t = self._t
        in_doubt = [
            a
            for a in t.attempts.values()
            if a.channel == report.channel
            and a.status == AttemptStatus.UNKNOWN
            and a.provider_message_id is None
        ]
        if report.attempt_id is not None:
            candidates = [a for a in in_doubt if a.id == report.attempt_id]
        else:
            candidates = [
                a
                for a in in_doubt
                if (m := t.messages.get(a.message_id)) is not None
                and m.phone == report.recipient
                and (report.text_prefix is None or (m.text or "").startswith(report.text_prefix))
            ]
        if len(candidates) != 1:
            return False  # none, or ambiguous: never guess
        self._set_provider_id(candidates[0], report.provider_id)
        return True

    def _apply_reports(self, reports: Sequence[DeliveryReport], now: int) -> list[ReportFate]:
        """Apply reports in order: applied, matched no attempt, or held (its message is
        under a live lease: the worker's decision would overwrite it; it waits)."""
        t = self._t
        messages: dict[str, MessageState | None] = {}  # as the reports change them
        stored: dict[str, _Stored] = {}  # as they were, for the webhooks' comparison
        held: dict[str, bool] = {}
        finished: list[MessageChange] = []
        woken: list[str] = []
        fates: list[ReportFate] = []
        for report in reports:
            ref = t.provider_refs.get((report.provider_id, report.channel))
            attempt_id = (
                ref.attempt_id if ref else t.by_provider.get((report.channel, report.provider_id))
            )
            attempt = t.attempts.get(attempt_id) if attempt_id else None
            if attempt is None:
                fates.append(ReportFate.NO_ATTEMPT)
                continue
            mid = attempt.message_id
            if mid not in held:
                task = t.tasks.get(mid)
                held[mid] = (
                    task is not None and task.lease_until is not None and (task.lease_until > now)
                )
                m = t.messages.get(mid)
                messages[mid] = MessageState(m.status, m.step, m.channel, m.reason) if m else None
                if m is not None:
                    stored[mid] = (m.status, m.account_id, m.tracking_id, m.surface)
            if held[mid]:
                fates.append(ReportFate.HELD)
                continue
            fates.append(ReportFate.APPLIED)
            effect = apply_report(
                Report.of(report, ref.delivered if ref is not None else None),
                AttemptState.of(attempt),
                messages[mid],
            )
            if ref is not None and effect.segment_delivered:
                ref.delivered = True
            after = effect.attempt
            attempt.status, attempt.reason = after.status, after.reason
            attempt.finished_at, attempt.parts_delivered = (
                after.finished_at_ms,
                after.parts_delivered,
            )
            message = messages[mid]
            if effect.message is not None and message is not None:
                messages[mid] = effect.message
                s = effect.message
                finished.append(MessageChange(mid, s.status, message.step, s.channel, None, None))
            elif effect.wake:
                woken.append(mid)
        if finished:
            self._change_messages(finished, now, stored)
        for mid in _unique(woken):
            # wake the engine now: it sees the failed attempt and takes the next step
            if (task := t.tasks.get(mid)) is not None:
                task.due_at = now
        return fates


def _unique(ids: Collection[str]) -> list[str]:
    return list(dict.fromkeys(ids))
