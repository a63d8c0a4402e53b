"""A message's timeline from its history: which entries, in which order, saying what."""

from __future__ import annotations

import msgspec

from cascade.domain.timeline import (
    EntryKind,
    HistoryAttempt,
    HistoryClick,
    HistoryReport,
    HistorySkip,
    HistoryWebhook,
    MessageHistory,
    timeline,
)

T0 = 1_767_225_600_000


def history(**changes: object) -> MessageHistory:
    base = MessageHistory(
        message_id="m-1",
        account_id="a-1",
        tracking_id="order-1",
        surface="cascade",
        route="standard",
        message_type="transaction",
        phone="+380501234567",
        status="processing",
        channel="sms",
        reason=None,
        created_at_ms=T0,
        scheduled_at_ms=None,
        expires_at_ms=T0 + 3_600_000,
        updated_at_ms=T0 + 50,
    )
    return msgspec.structs.replace(base, **changes)


def attempt(
    step: int, channel: str, status: str, start: int, end: int | None, **more: object
) -> HistoryAttempt:
    return HistoryAttempt(
        step=step,
        channel=channel,
        status=status,
        reason=more.pop("reason", None),  # type: ignore[arg-type]
        started_at_ms=T0 + start,
        finished_at_ms=None if end is None else T0 + end,
        **more,  # type: ignore[arg-type]
    )


def test_a_cascade_reads_in_the_order_it_happened() -> None:
    h = history(
        status="delivered",
        updated_at_ms=T0 + 900,
        skipped=(HistorySkip(0, "telegram", "skipped", "NO_CHAT", T0),),
        attempts=(
            attempt(1, "viber_bot", "timeout", 0, 600, reason="NO_CONFIRMATION"),
            attempt(
                4,
                "sms",
                "delivered",
                600,
                900,
                provider_message_id="p-9",
                parts=2,
                parts_delivered=2,
            ),
        ),
    )
    entries = timeline(h).entries
    assert [(e.kind, e.step) for e in entries] == [
        (EntryKind.ACCEPTED, None),
        (EntryKind.SKIPPED, 0),
        (EntryKind.SENT, 1),
        (EntryKind.OUTCOME, 1),
        (EntryKind.SENT, 4),
        (EntryKind.OUTCOME, 4),
        (EntryKind.FINAL, None),
    ]
    assert [e.at_ms - T0 for e in entries] == [0, 0, 0, 600, 600, 900, 900]
    assert entries[1].text == "step 0 telegram passed over: NO_CHAT"
    assert entries[3].text == "step 1 viber_bot: timeout (NO_CONFIRMATION)"
    assert entries[5].text == "step 4 sms: delivered · 2/2 parts delivered · provider id p-9"
    assert (entries[6].text, entries[6].status, entries[6].channel) == (
        "delivered by sms",
        "delivered",
        "sms",
    )
    assert timeline(h).history is h


def test_a_step_still_waiting_has_no_outcome_and_no_final_status() -> None:
    h = history(attempts=(attempt(4, "sms", "sent", 10, None, window_ends_at_ms=T0 + 60_000),))
    entries = timeline(h).entries
    assert [e.kind for e in entries] == [EntryKind.ACCEPTED, EntryKind.SENT]
    assert entries[1].text == "step 4 sms: sent (sent, waiting for its report)"


def test_a_final_failure_names_its_reason() -> None:
    h = history(status="undeliverable", channel="sms", reason="IN_DOUBT")
    [_, final] = timeline(h).entries
    assert (final.kind, final.text, final.reason) == (
        EntryKind.FINAL,
        "undeliverable: IN_DOUBT",
        "IN_DOUBT",
    )


def test_scheduled_clicks_kept_reports_and_the_sender() -> None:
    h = history(
        scheduled_at_ms=T0 + 5_000,
        attempts=(attempt(1, "viber_bot", "sent", 5_000, None, sender_id="bot-7"),),
        reports=(HistoryReport("viber_bot", "read", None, T0 + 5_500, "vb-1"),),
        clicks=(HistoryClick(T0 + 7_000, "curl/8"), HistoryClick(T0 + 8_000, None)),
    )
    entries = timeline(h).entries
    assert [e.kind for e in entries] == [
        EntryKind.ACCEPTED,
        EntryKind.SCHEDULED,
        EntryKind.SENT,
        EntryKind.REPORT_KEPT,
        EntryKind.CLICK,
        EntryKind.CLICK,
    ]
    assert entries[2].text == "step 1 viber_bot: sent via bot-7 (sent)"
    assert entries[3].text == "viber_bot report read kept, not applied yet (provider id vb-1)"
    assert [e.text for e in entries[4:]] == ["link clicked (curl/8)", "link clicked"]


def test_a_schedule_in_the_past_is_no_entry() -> None:
    kinds = [e.kind for e in timeline(history(scheduled_at_ms=T0 - 1)).entries]
    assert kinds == [EntryKind.ACCEPTED]


def test_webhooks_of_both_surfaces_delivered_or_owed() -> None:
    cascade = msgspec.json.encode({"status": "processing", "seq": 1, "at": T0 + 20}).decode()
    bat = msgspec.json.encode(
        {"deliverystatus": "delivered", "timestamp": "2026-01-01T00:00:00.300Z"}
    ).decode()
    h = history(
        webhooks=(
            HistoryWebhook("cb", "https://h.example/s", 1, cascade, 0, T0 + 20, T0 + 40),
            HistoryWebhook("cb", "https://h.example/s", 2, bat, 3, T0 + 99_000, None),
            HistoryWebhook("cb", "https://h.example/s", 3, "not json", 0, T0 + 200, None),
            HistoryWebhook("cb", "https://h.example/s", 4, cascade, 2, T0 + 99_000, T0 + 1_000),
        )
    )
    [_, *hooks] = timeline(h).entries
    assert [(e.at_ms - T0, e.text) for e in hooks] == [
        (40, "webhook #1 processing to https://h.example/s: delivered"),
        (200, "webhook #3 ? to https://h.example/s: pending"),
        (300, "webhook #2 delivered to https://h.example/s: not delivered yet (3 failed tries)"),
        (1_000, "webhook #4 processing to https://h.example/s: delivered after 2 failed tries"),
    ]
    assert T0 == 1_767_225_600_000  # 2026-01-01T00:00:00Z, as the bat timestamp above


def test_a_verified_code() -> None:
    h = history(verified_at_ms=T0 + 30_000)
    assert [e.text for e in timeline(h).entries][-1] == "code verified"


def test_a_message_cancelled_before_its_time_was_never_due() -> None:
    h = history(
        scheduled_at_ms=T0 + 60_000,
        status="cancelled",
        reason="CANCELLED",
        channel=None,
        updated_at_ms=T0 + 1_000,
    )
    assert [e.kind for e in timeline(h).entries] == [EntryKind.ACCEPTED, EntryKind.FINAL]
    # one that waited for its time and then ended is shown due
    later = msgspec.structs.replace(h, status="expired", updated_at_ms=T0 + 90_000)
    assert [e.kind for e in timeline(later).entries] == [
        EntryKind.ACCEPTED,
        EntryKind.SCHEDULED,
        EntryKind.FINAL,
    ]
