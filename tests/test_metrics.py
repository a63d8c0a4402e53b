"""/metrics (SPEC F): the series after messages flow, with counts that match what was
sent; the bounded account label; nothing secret or personal in a label."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from cascade.bootstrap import build_metrics
from cascade.clock import ManualClock
from cascade.config import Settings
from cascade.domain.chats import ChatStatus
from cascade.metrics import OTHER_ACCOUNT, Metrics
from cascade.security import hash_secret
from cascade.store.base import StoreFigures
from cascade.store.sql import SqlStore
from tests.metrics_run import REPORT_AFTER_S, WINDOW, Run, metrics_run, parse
from tests.test_store_conversations import ops, said


@pytest.fixture
async def run(store: SqlStore, clock: ManualClock, db_url: str) -> Run:
    return await metrics_run(store, clock, db_url)


async def test_counts_match_what_was_sent(run: Run) -> None:
    after = run.after
    sent = len(run.phones) + 1  # and the limited account's one
    assert len(run.channel.sent) == sent
    # the repeated request added nothing (A7)
    assert after.value("cascade_messages_accepted_total", account=run.account.id) == sent - 1
    assert after.value("cascade_messages_accepted_total", account=run.limited.id) == 1
    assert after.value("cascade_rate_limit_refusals_total", account=run.limited.id) == 1
    assert after.value("cascade_attempts_total", channel="sms", outcome="sent") == sent
    assert after.value("cascade_attempts_total", channel="sms", outcome="throttled") == 1
    assert after.value("cascade_throttle_pauses_total", channel="sms") == 1
    steps = {"channel": "sms", "outcome": "delivered"}
    assert after.value("cascade_step_report_seconds_count", **steps) == sent
    # the throttled step counts from its first try: paused, sent 4.5 s later, reported
    throttled_step = REPORT_AFTER_S + 1.5 + REPORT_AFTER_S
    assert after.value("cascade_step_report_seconds_sum", **steps) == pytest.approx(
        (sent - 1) * REPORT_AFTER_S + throttled_step
    )
    assert after.value("cascade_step_report_seconds_bucket", le="2.5", **steps) == 0
    assert after.value("cascade_step_report_seconds_bucket", le="5.0", **steps) == sent - 1
    assert after.value("cascade_step_report_seconds_bucket", le="10.0", **steps) == sent
    assert run.receiver.ok > 0
    assert run.receiver.failed > 0
    assert after.value("cascade_webhook_deliveries_total", outcome="delivered") == run.receiver.ok
    assert after.value("cascade_webhook_deliveries_total", outcome="failed") == run.receiver.failed
    assert after.value("cascade_smpp_window_in_flight", channel="sms") == 0
    assert after.value("cascade_smpp_window_size", channel="sms") == WINDOW


async def test_the_backlog_is_read_from_the_store(run: Run) -> None:
    sent = len(run.phones) + 1  # and the limited account's one
    assert run.before_work.value("cascade_due_tasks") == sent
    assert run.before_work.value("cascade_oldest_due_age_seconds") == 5.0
    assert run.after.value("cascade_due_tasks") == 0
    assert run.after.value("cascade_oldest_due_age_seconds") == 0
    for status in ("new", "open", "waiting", "on_pause", "closed"):
        assert run.after.value("cascade_chats", status=status) == 0
    assert run.after.value("cascade_chat_first_response_seconds_count") == 0


async def test_http_latency_is_labelled_by_route_template(run: Run) -> None:
    after = run.after
    send = {"method": "POST", "route": "/api/CascadeMessage/send_message/async"}
    # the batch, its repeat, the limited account's first
    assert after.value("cascade_http_request_duration_seconds_count", status="200", **send) == 3
    status_route = "/api/CascadeMessage/status/{message_id}"
    assert (
        after.value("cascade_http_request_duration_seconds_count", route=status_route, status="200")
        == 2
    )
    refused = after.value("cascade_http_request_duration_seconds_count", status="429", **send)
    assert refused == 1


async def test_no_secret_or_personal_data_in_a_label(run: Run) -> None:
    values = {v for s in run.after.samples for v in s.labels.values()}
    secrets = [run.account.key, run.limited.key, *run.phones, *run.message_ids]
    digits = [p.lstrip("+") for p in run.phones]
    leaked = [s for s in secrets + digits if any(s in v for v in values)]
    assert leaked == []
    assert "metrics" not in values  # nor an account's name: its id
    assert run.account.id in values


def test_the_account_label_is_bounded() -> None:
    metrics = Metrics(ManualClock(), account_labels=2)
    for account in ("a1", "a2", "a3", "a4", "a1"):
        metrics.accepted(account, 10)
        metrics.rate_limited(account, "send")
    scrape = parse(asyncio.run(metrics.render()).decode())
    assert scrape.value("cascade_messages_accepted_total", account="a1") == 20
    assert scrape.value("cascade_messages_accepted_total", account="a2") == 10
    assert scrape.value("cascade_messages_accepted_total", account=OTHER_ACCOUNT) == 20
    assert scrape.value("cascade_rate_limit_refusals_total", account=OTHER_ACCOUNT) == 2
    accounts = {s.labels["account"] for s in scrape.samples if "account" in s.labels}
    assert accounts == {"a1", "a2", OTHER_ACCOUNT}


def test_no_account_labels_when_the_cap_is_zero() -> None:
    metrics = Metrics(ManualClock(), account_labels=0)
    metrics.accepted("a1", 3)
    scrape = parse(asyncio.run(metrics.render()).decode())
    assert scrape.value("cascade_messages_accepted_total", account=OTHER_ACCOUNT) == 3


async def test_chats_by_status_and_first_response(store: SqlStore, clock: ManualClock) -> None:
    """Every account's chats (SPEC E3, issue 16's figures), read when scraped."""
    metrics = build_metrics(Settings(), clock, store, wait_for_store=True)
    account = await store.create_account("chats", "Chats")
    org = await store.create_organization(account.id, "Support")
    bot = await store.add_bot(account.id, "telegram", "tg-token", hash_secret("tg-token"))
    await store.attach_bots(account.id, org.id, [bot])
    await ops(store, account.id, org.id, "Ann")
    chats = []
    for address in ("1", "2", "3"):
        [arrival] = await store.record_chat_messages([said(bot, address, "1")])
        assert arrival is not None
        chats.append(arrival.chat.id)
    clock.advance(20)
    await store.add_operator_message(account.id, chats[0], "first answer")
    clock.advance(100)
    await store.add_operator_message(account.id, chats[1], "later")
    await store.set_chat_status(account.id, chats[2], ChatStatus.CLOSED)
    scrape = parse((await metrics.render()).decode())
    assert scrape.value("cascade_chats", status="open") == 2
    assert scrape.value("cascade_chats", status="closed") == 1
    assert scrape.value("cascade_chats", status="new") == 0
    histogram = "cascade_chat_first_response_seconds"
    assert scrape.value(f"{histogram}_count") == 2
    assert scrape.value(f"{histogram}_sum") == 140
    assert scrape.value(f"{histogram}_bucket", le="30.0") == 1
    assert scrape.value(f"{histogram}_bucket", le="60.0") == 1  # 20 s and 120 s
    assert scrape.value(f"{histogram}_bucket", le="120.0") == 2
    assert scrape.value(f"{histogram}_bucket", le="+Inf") == 2


async def test_a_slow_store_read_does_not_hold_the_scrape() -> None:
    """The first scrape waits for the store; a later one whose read takes longer than
    `store_wait_s` answers with the figures before, and the read lands for the next."""
    clock = ManualClock()
    release, finished = asyncio.Event(), asyncio.Event()
    reads: list[int] = []

    async def read(now_ms: int, bounds: Sequence[int]) -> StoreFigures:
        reads.append(now_ms)
        if len(reads) > 1:
            await release.wait()
            finished.set()  # the figures are kept in this same step, before anyone wakes
        return StoreFigures(len(reads), None, {}, 0, 0, [0] * len(bounds))

    metrics = Metrics(clock, store_wait_s=0.01)
    metrics.watch_store(read)
    assert parse((await metrics.render()).decode()).value("cascade_due_tasks") == 1
    clock.advance(1)
    # the read waits for `release`; a scrape that waited for it would time out here
    held = parse((await asyncio.wait_for(metrics.render(), 5)).decode())
    assert len(reads) == 2
    assert held.value("cascade_due_tasks") == 1
    release.set()
    await finished.wait()
    assert parse((await metrics.render()).decode()).value("cascade_due_tasks") == 2
    assert len(reads) == 2  # within the second: no new read
