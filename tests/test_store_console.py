"""The console's reads (SPEC F), one contract for every store: in memory, SQLite and
PostgreSQL — the search and its filters and pages, a period's steps by channel and
status, its billed attempts, its throughput and latency by bucket."""

from __future__ import annotations

import uuid

import msgspec
import pytest

from cascade.domain.funnel import StepCount
from cascade.domain.lifecycle import AttemptStatus
from cascade.domain.message import Status
from cascade.domain.records import AttemptChange, MessageChange, NewAttempt, Transition
from cascade.domain.search import MessageQuery
from cascade.domain.series import BucketRow
from cascade.store.memory import MemoryStore
from cascade.store.sql import SqlStore
from tests.conftest import make_account
from tests.test_store_contract import NOW, draft, new

Store = SqlStore | MemoryStore
MINUTE = 60_000


@pytest.fixture
def store(any_store: Store) -> Store:
    return any_store


async def accept(
    store: Store, account_id: str, tracking_id: str, phone: str, at_ms: int, **changes: object
) -> str:
    d = draft(tracking_id, now_ms=at_ms, phone=phone, **changes)
    [message_id] = await store.accept(account_id, [new(d)])
    return message_id


async def attempt(
    store: Store,
    message_id: str,
    step: int,
    channel: str,
    status: AttemptStatus,
    *,
    started_ms: int,
    finished_ms: int | None = None,
    provider_id: str | None = None,
    parts: int | None = None,
    message_status: Status = Status.PROCESSING,
    skipped: list[list[object]] | None = None,
) -> None:
    """An attempt as the engine records it: its intent, then its outcome."""
    attempt_id = str(uuid.uuid4())
    await store.record_intents(
        [
            NewAttempt(
                attempt_id,
                message_id,
                step,
                channel,
                AttemptStatus.SENDING.value,
                None,
                None,
                "address",
                started_ms,
                None,
            )
        ],
        [],
    )
    await store.apply(
        [
            Transition(
                MessageChange(
                    message_id,
                    message_status.value,
                    step,
                    channel,
                    None,
                    None,
                    skipped=None if skipped is None else msgspec.json.encode(skipped).decode(),
                ),
                attempt_changes=(
                    AttemptChange(
                        attempt_id,
                        status.value,
                        None,
                        provider_id,
                        finished_at_ms=finished_ms,
                        parts=parts,
                    ),
                ),
            )
        ]
    )


# --- search -------------------------------------------------------------------------------


async def test_search_filters_each_alone_and_together(store: Store) -> None:
    acme = await make_account(store, "acme")
    other = await make_account(store, "other")
    first = await accept(store, acme.id, "order-1", "+380501234567", NOW)
    second = await accept(store, acme.id, "order-2", "+380671234567", NOW + MINUTE)
    third = await accept(store, acme.id, "order-3", "+380509999999", NOW + 2 * MINUTE)
    await accept(store, other.id, "order-1", "+380501234567", NOW)  # another account's
    await attempt(
        store,
        second,
        0,
        "telegram",
        AttemptStatus.DELIVERED,
        started_ms=NOW + MINUTE,
        finished_ms=NOW + MINUTE + 500,
        provider_id="tg-1",
        message_status=Status.DELIVERED,
    )

    async def ids(**filters: object) -> list[str]:
        page = await store.search_messages(acme.id, MessageQuery(**filters))  # type: ignore[arg-type]
        assert page.total == len(page.items)
        return [m.id for m in page.items]

    assert await ids() == [third, second, first]  # the latest accepted first
    assert await ids(phone_prefix="+38050") == [third, first]
    assert await ids(phone_prefix="+380501234567") == [first]
    assert await ids(tracking_id="order-2") == [second]
    assert await ids(tracking_id="order-") == []  # a tracking id matches exactly
    assert await ids(status="delivered") == [second]
    assert await ids(status="scheduled") == [third, first]
    assert await ids(channel="telegram") == [second]
    assert await ids(since_ms=NOW + MINUTE) == [third, second]
    assert await ids(until_ms=NOW + MINUTE) == [first]  # until is exclusive
    assert await ids(phone_prefix="+38050", since_ms=NOW + MINUTE) == [third]
    assert await ids(phone_prefix="+38050", status="delivered") == []
    [found] = (await store.search_messages(acme.id, MessageQuery(tracking_id="order-2"))).items
    assert (found.tracking_id, found.phone, found.status, found.channel) == (
        "order-2",
        "+380671234567",
        "delivered",
        "telegram",
    )
    assert found.created_at_ms == NOW + MINUTE


async def test_search_pages_with_the_total(store: Store) -> None:
    acme = await make_account(store)
    made = [
        await accept(store, acme.id, f"t-{i}", "+380501234567", NOW + i * MINUTE) for i in range(7)
    ]
    pages = [
        await store.search_messages(acme.id, MessageQuery(offset=offset, limit=3))
        for offset in (0, 3, 6, 9)
    ]
    assert [p.total for p in pages] == [7, 7, 7, 7]
    assert [[m.id for m in p.items] for p in pages] == [
        made[6:3:-1],
        made[3:0:-1],
        made[:1],
        [],
    ]


async def test_search_strings_with_sql_in_them_find_nothing_and_break_nothing(
    store: Store,
) -> None:
    acme = await make_account(store)
    await accept(store, acme.id, "plain", "+380501234567", NOW)
    for hostile in ("' OR '1'='1", "x'; DROP TABLE messages; --", "%", "_", "<b>x</b>"):
        page = await store.search_messages(acme.id, MessageQuery(tracking_id=hostile))
        assert page.total == 0
    assert (await store.search_messages(acme.id, MessageQuery())).total == 1


# --- a period's steps -------------------------------------------------------------------------


async def test_step_counts_count_attempts_and_steps_passed_over(store: Store) -> None:
    acme = await make_account(store)
    other = await make_account(store, "other")
    one = await accept(store, acme.id, "a", "+380501234567", NOW)
    two = await accept(store, acme.id, "b", "+380501234568", NOW + MINUTE)
    late = await accept(store, acme.id, "c", "+380501234569", NOW + 60 * MINUTE)
    foreign = await accept(store, other.id, "a", "+380501234567", NOW)
    skipped = [
        [0, "telegram", "skipped", "NO_CHAT", None, NOW],
        [1, "viber_bot", "unreachable", "NO_CONTACT", None, NOW],
    ]
    await attempt(
        store,
        one,
        2,
        "sms",
        AttemptStatus.DELIVERED,
        started_ms=NOW,
        finished_ms=NOW + 1,
        provider_id="s1",
        parts=1,
        skipped=skipped,
        message_status=Status.DELIVERED,
    )
    await attempt(store, two, 0, "telegram", AttemptStatus.FAILED, started_ms=NOW + MINUTE)
    await attempt(
        store, two, 1, "sms", AttemptStatus.SENT, started_ms=NOW + MINUTE, provider_id="s2"
    )
    await attempt(store, late, 0, "telegram", AttemptStatus.DELIVERED, started_ms=NOW + 60 * MINUTE)
    await attempt(store, foreign, 0, "telegram", AttemptStatus.DELIVERED, started_ms=NOW)

    counts = await store.step_counts(acme.id, NOW, NOW + 10 * MINUTE)
    assert sorted(counts, key=lambda c: (c.channel, c.status)) == [
        StepCount("sms", "delivered", 1),
        StepCount("sms", "sent", 1),
        StepCount("telegram", "failed", 1),
        StepCount("telegram", "skipped", 1, passed_over=True),
        StepCount("viber_bot", "unreachable", 1, passed_over=True),
    ]
    assert await store.step_counts(acme.id, NOW - 10 * MINUTE, NOW) == []


async def test_spend_rows_keep_only_what_the_provider_took(store: Store) -> None:
    acme = await make_account(store)
    one = await accept(store, acme.id, "a", "+380501234567", NOW, text="Hello there")
    two = await accept(store, acme.id, "b", "+380501234568", NOW)
    await accept(store, acme.id, "c", "+380501234569", NOW)  # nothing tried
    await attempt(store, one, 0, "telegram", AttemptStatus.UNREACHABLE, started_ms=NOW)
    await attempt(
        store,
        one,
        1,
        "sms",
        AttemptStatus.DELIVERED,
        started_ms=NOW,
        finished_ms=NOW + 9,
        provider_id="s1",
        parts=2,
    )
    await attempt(store, two, 0, "telegram", AttemptStatus.FAILED, started_ms=NOW)

    [row] = await store.spend_rows(acme.id, NOW, NOW + MINUTE)
    assert (row.phone, row.text) == ("+380501234567", "Hello there")
    [sms] = row.attempts
    assert (sms.channel, sms.status, sms.provider_message_id, sms.parts) == (
        "sms",
        "delivered",
        "s1",
        2,
    )
    assert await store.spend_rows(acme.id, NOW + MINUTE, NOW + 2 * MINUTE) == []


async def test_throughput_buckets_acceptance_and_confirmation(store: Store) -> None:
    acme = await make_account(store)
    since = NOW
    first = await accept(store, acme.id, "a", "+380501234567", since + 1_000)
    second = await accept(store, acme.id, "b", "+380501234568", since + 2_000)
    scheduled = await accept(
        store, acme.id, "c", "+380501234569", since + 3_000, scheduled_at_ms=since + 6 * MINUTE
    )
    await accept(store, acme.id, "d", "+380501234560", since + 2 * MINUTE)

    async def confirmed(message_id: str, channel: str, state: Status, at: int, took: int) -> None:
        await attempt(
            store,
            message_id,
            0,
            channel,
            AttemptStatus(state.value),
            started_ms=at,
            finished_ms=at + took,
            provider_id=f"p-{message_id}",
            message_status=state,
        )

    # confirmed 4 s and 61 s after acceptance: buckets 0 and 1 (one minute each)
    await confirmed(first, "telegram", Status.DELIVERED, since + 1_000, 4_000)
    await confirmed(second, "telegram", Status.READ, since + 2_000, 61_000)
    # confirmed 2 s after its schedule: the latency counts from when it was due
    await confirmed(scheduled, "sms", Status.DELIVERED, since + 6 * MINUTE, 2_000)
    rows = await store.throughput(acme.id, since, since + 10 * MINUTE, MINUTE)
    assert rows == [
        BucketRow(0, accepted=3, delivered=1, latency_sum_ms=4_000, latency_max_ms=4_000),
        BucketRow(1, accepted=0, delivered=1, latency_sum_ms=61_000, latency_max_ms=61_000),
        BucketRow(2, accepted=1),
        BucketRow(6, accepted=0, delivered=1, latency_sum_ms=2_000, latency_max_ms=2_000),
    ]
    other = await make_account(store, "other")
    assert await store.throughput(other.id, since, since + 10 * MINUTE, MINUTE) == []
