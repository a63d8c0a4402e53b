"""A message's timeline: everything the ledger knows happened to it, in order (SPEC F).

The store reads what it keeps of one message into a `MessageHistory` (its row, its
attempts, the steps passed over at once, the reports kept for it, clicks on its links,
the status-webhook events it owed, a flash-call code's check); `timeline` turns that into
a `Timeline` of `TimelineEntry`s ordered by time, each saying what happened in words a
person reads (`cascade status`, the console). Pure: no I/O, no clock.

The ledger keeps no row per status change: a status change is seen in what caused it
(a step started, its outcome, a report) and, when the account has status webhooks, in
the events owed to them, which carry the status and its time.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import msgspec

from cascade.domain.delivery import is_final
from cascade.domain.lifecycle import AttemptStatus


class EntryKind(StrEnum):
    """What one entry of a timeline is about."""

    ACCEPTED = "accepted"  # the API stored the message
    SCHEDULED = "scheduled"  # it waits for the time the client asked for
    SKIPPED = "skipped"  # a step passed over at once, without a send
    SENT = "sent"  # a step's send (its attempt began)
    OUTCOME = "outcome"  # what the step came to: delivered, read, failed, timed out…
    REPORT_KEPT = "report_kept"  # a provider's report not applied (yet)
    CLICK = "click"  # a short link of the message followed
    FINAL = "final"  # the message's final status
    WEBHOOK = "webhook"  # a status change owed to one of the account's webhooks
    VERIFIED = "verified"  # a flash call's code checked right


# Entries at one instant read in the order things happen: accepted before its first step,
# steps in their order (each one's send before its outcome), the final status after the
# outcome that led to it, and the webhook telling of it after that.
_RANK = {kind: rank for rank, kind in enumerate(EntryKind)}


def _order(entry: TimelineEntry) -> tuple[int, int, int, int]:
    if entry.step is None:
        return (entry.at_ms, _RANK[entry.kind], 0, 0)
    return (entry.at_ms, _RANK[EntryKind.SKIPPED], entry.step, _RANK[entry.kind])


class HistoryAttempt(msgspec.Struct, frozen=True):
    """One attempt as the ledger keeps it (a step tried on a channel)."""

    step: int
    channel: str
    status: str
    reason: str | None
    started_at_ms: int
    finished_at_ms: int | None
    provider_message_id: str | None = None
    sender_id: str | None = None  # the bot or provider account it went through
    parts: int | None = None
    parts_delivered: int = 0
    window_ends_at_ms: int | None = None  # the step waits for its report until then
    detail: str | None = None  # e.g. a flash call's caller pattern


class HistorySkip(msgspec.Struct, frozen=True):
    """A step passed over at once (no chat, not subscribed, channel off…)."""

    step: int
    channel: str
    status: str
    reason: str | None
    at_ms: int


class HistoryReport(msgspec.Struct, frozen=True):
    """A provider's report kept because it could not be applied when it came (no attempt
    had its id yet, or a worker held the message): it is applied once it can."""

    channel: str
    state: str
    reason: str | None
    at_ms: int
    provider_message_id: str


class HistoryClick(msgspec.Struct, frozen=True):
    at_ms: int
    user_agent: str | None


class HistoryWebhook(msgspec.Struct, frozen=True):
    """An event owed to one status webhook: its body as sent, and how its delivery went."""

    callback_id: str
    url: str
    seq: int
    payload: str
    tries: int  # failed tries so far
    due_at_ms: int  # the next try (when not delivered)
    delivered_at_ms: int | None


class MessageHistory(msgspec.Struct, frozen=True):
    """What the store keeps of one message, as read for its timeline."""

    message_id: str
    account_id: str
    tracking_id: str
    surface: str
    route: str
    message_type: str
    phone: str
    status: str
    channel: str | None
    reason: str | None
    created_at_ms: int
    scheduled_at_ms: int | None
    expires_at_ms: int
    updated_at_ms: int
    attempts: tuple[HistoryAttempt, ...] = ()
    skipped: tuple[HistorySkip, ...] = ()
    reports: tuple[HistoryReport, ...] = ()
    clicks: tuple[HistoryClick, ...] = ()
    webhooks: tuple[HistoryWebhook, ...] = ()
    verified_at_ms: int | None = None
    survey_answer: str | None = None


class TimelineEntry(msgspec.Struct, frozen=True):
    """One thing that happened to a message: when, what, on which step and channel, the
    status and reason it carries, and a line a person reads (`text`)."""

    at_ms: int
    kind: EntryKind
    text: str
    step: int | None = None
    channel: str | None = None
    status: str | None = None
    reason: str | None = None


class Timeline(msgspec.Struct, frozen=True):
    """A message's history (where it stands: `history.status`, `.channel`, `.reason`…)
    and its entries, ordered by time."""

    history: MessageHistory
    entries: tuple[TimelineEntry, ...]


def timeline(history: MessageHistory) -> Timeline:
    """The message's timeline: every entry its history gives, ordered by time (ties in
    the order things happen; then by step)."""
    h = history
    entries = [
        TimelineEntry(
            h.created_at_ms,
            EntryKind.ACCEPTED,
            f"accepted ({h.surface} API, {h.route} route, {h.message_type})",
        )
    ]
    due = h.scheduled_at_ms
    # a message cancelled (or expired) before the time asked for never was due
    if (
        due is not None
        and due > h.created_at_ms
        and not (is_final(h.status) and h.updated_at_ms < due)
    ):
        entries.append(TimelineEntry(due, EntryKind.SCHEDULED, "due (the time asked for)"))
    entries.extend(_skip(s) for s in h.skipped)
    for attempt in h.attempts:
        entries.extend(_attempt(attempt))
    entries.extend(_kept(r) for r in h.reports)
    entries.extend(_click(c) for c in h.clicks)
    entries.extend(_webhook(w) for w in h.webhooks)
    if h.verified_at_ms is not None:
        entries.append(TimelineEntry(h.verified_at_ms, EntryKind.VERIFIED, "code verified"))
    if is_final(h.status):
        because = f": {h.reason}" if h.reason else ""
        by = f" by {h.channel}" if h.channel and h.status in ("delivered", "read") else ""
        entries.append(
            TimelineEntry(
                h.updated_at_ms,
                EntryKind.FINAL,
                f"{h.status}{by}{because}",
                channel=h.channel,
                status=h.status,
                reason=h.reason,
            )
        )
    entries.sort(key=_order)
    return Timeline(h, tuple(entries))


def _skip(s: HistorySkip) -> TimelineEntry:
    why = f": {s.reason}" if s.reason else ""
    return TimelineEntry(
        s.at_ms,
        EntryKind.SKIPPED,
        f"step {s.step} {s.channel} passed over{why}",
        s.step,
        s.channel,
        s.status,
        s.reason,
    )


_WAITING = frozenset(
    {AttemptStatus.SENDING, AttemptStatus.SENT, AttemptStatus.RETRYING, AttemptStatus.PAUSED}
)


def _attempt(a: HistoryAttempt) -> list[TimelineEntry]:
    """A step's send, and its outcome once it has one."""
    via = f" via {a.sender_id}" if a.sender_id else ""
    sent = f"step {a.step} {a.channel}: sent{via}"
    if a.status in _WAITING:
        sent += f" ({a.status}"
        if a.window_ends_at_ms is not None and a.status == AttemptStatus.SENT:
            sent += ", waiting for its report"
        sent += ")"
    entries = [TimelineEntry(a.started_at_ms, EntryKind.SENT, sent, a.step, a.channel, a.status)]
    if a.status in _WAITING or a.finished_at_ms is None:
        return entries
    said = f"step {a.step} {a.channel}: {a.status}" + (f" ({a.reason})" if a.reason else "")
    words = [said]
    if a.parts is not None and a.parts > 1:
        words.append(f"{a.parts_delivered}/{a.parts} parts delivered")
    if a.provider_message_id:
        words.append(f"provider id {a.provider_message_id}")
    if a.detail:
        words.append(a.detail)
    entries.append(
        TimelineEntry(
            a.finished_at_ms,
            EntryKind.OUTCOME,
            " · ".join(words),
            a.step,
            a.channel,
            a.status,
            a.reason,
        )
    )
    return entries


def _kept(r: HistoryReport) -> TimelineEntry:
    why = f" ({r.reason})" if r.reason else ""
    return TimelineEntry(
        r.at_ms,
        EntryKind.REPORT_KEPT,
        f"{r.channel} report {r.state}{why} kept, not applied yet "
        f"(provider id {r.provider_message_id})",
        channel=r.channel,
        status=r.state,
        reason=r.reason,
    )


def _click(c: HistoryClick) -> TimelineEntry:
    agent = f" ({c.user_agent})" if c.user_agent else ""
    return TimelineEntry(c.at_ms, EntryKind.CLICK, f"link clicked{agent}")


class _Event(msgspec.Struct):
    """What a status webhook's body says, in either surface's shape (SPEC C, D7)."""

    status: str | None = None
    deliverystatus: str | None = None
    reason: str | None = None
    at: str | int | None = None
    timestamp: str | int | None = None


def _webhook(w: HistoryWebhook) -> TimelineEntry:
    """An event owed to a webhook: when it was delivered, or (not yet) when it was owed."""
    try:
        event = msgspec.json.decode(w.payload, type=_Event)
    except msgspec.DecodeError:
        event = _Event()
    status = event.status or event.deliverystatus or "?"
    if w.delivered_at_ms is not None:
        tries = "" if w.tries == 0 else f" after {w.tries} failed tries"
        fate = f"delivered{tries}"
        at = w.delivered_at_ms
    else:
        fate = f"not delivered yet ({w.tries} failed tries)" if w.tries else "pending"
        at = _event_ms(event, w.due_at_ms)
    return TimelineEntry(
        at,
        EntryKind.WEBHOOK,
        f"webhook #{w.seq} {status} to {w.url}: {fate}",
        status=status,
        reason=event.reason,
    )


def _event_ms(event: _Event, otherwise: int) -> int:
    """The time the event's body gives (epoch ms, or ISO 8601), else `otherwise`."""
    for value in (event.at, event.timestamp):
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return round(datetime.fromisoformat(value).timestamp() * 1000)
            except ValueError:
                continue
    return otherwise
