"""ChatHub's chats, messages and media (SPEC E3): one contract for every store backend (in
memory, SQLite, PostgreSQL: conftest's `any_store`) — a person's message finds or begins
its chat, joined and assigned in the same transaction; repeats are stored once; operators'
messages settle and follow receipts (even one that came first); operators' status
changes place chats; media; the console's hooks."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from cascade.clock import ManualClock
from cascade.domain.chats import (
    Author,
    ChatQuery,
    ChatStatus,
    NewMedia,
    OperatorStatus,
    OperatorSync,
)
from cascade.domain.events import (
    BotChatMessage,
    ChatContent,
    ChatMessageStatus,
    DeliveryReport,
    GeoPoint,
    MediaRef,
)
from cascade.security import hash_secret
from cascade.store.memory import MemoryStore
from cascade.store.sql import SqlStore

Store = SqlStore | MemoryStore
ACTIVE, INACTIVE, DELETED = OperatorStatus


@pytest.fixture
def store(any_store: Store) -> Store:
    return any_store


class Setup:
    def __init__(self, store: Store, account_id: str, org_id: int, bot: str, viber: str) -> None:
        self.store = store
        self.account_id = account_id
        self.org_id = org_id
        self.bot = bot
        self.viber = viber


async def _bot(store: Store, account_id: str, channel: str) -> str:
    token = f"{channel}-{uuid.uuid4()}"
    return await store.add_bot(account_id, channel, token, hash_secret(token))


@pytest.fixture
async def acme(store: Store) -> Setup:
    account = await store.create_account("acme", "Acme")
    org = await store.create_organization(account.id, "Support")
    bot = await _bot(store, account.id, "telegram")
    viber = await _bot(store, account.id, "viber_bot")
    await store.attach_bots(account.id, org.id, [bot, viber])
    return Setup(store, account.id, org.id, bot, viber)


def said(
    bot: str,
    address: str,
    provider_id: str,
    text: str = "hello",
    channel: str = "telegram",
    **more: object,
) -> BotChatMessage:
    content = more.pop("content", ChatContent.TEXT)
    return BotChatMessage(
        channel,
        bot,
        address,
        provider_id,
        0,
        content,
        text,
        **more,  # type: ignore[arg-type]
    )


async def ops(store: Store, account_id: str, org_id: int, *names: str) -> list[int]:
    added = await store.synchronize_operators(
        account_id, [OperatorSync(org_id, name) for name in names]
    )
    return [op.id for op in added]


def query(s: Setup, **filters: object) -> ChatQuery:
    return ChatQuery(frozenset({s.org_id}), **filters)  # type: ignore[arg-type]


async def test_a_persons_first_message_begins_a_chat_joined_and_assigned(
    store: Store, acme: Setup, clock: ManualClock
) -> None:
    ann, bob = await ops(store, acme.account_id, acme.org_id, "Ann", "Bob")
    await store.link_contact("telegram", acme.bot, "+380501230001", "1001")
    [first] = await store.record_chat_messages([said(acme.bot, "1001", "1", name="Olena")])
    assert first is not None
    assert first.created
    chat = first.chat
    assert (chat.organization_id, chat.operator_id, chat.status) == (
        acme.org_id,
        ann,
        ChatStatus.NEW,
    )
    assert (chat.client_name, chat.client_phone, chat.unread) == ("Olena", "+380501230001", 1)
    assert (first.message.author, first.message.text) == (Author.CLIENT, "hello")
    # the next person goes to the operator with fewer open chats
    [second] = await store.record_chat_messages([said(acme.bot, "1002", "1")])
    assert second is not None
    assert second.chat.operator_id == bob
    # the same person again: the same chat, one more unread; the repeat is stored once
    clock.advance(1)
    found = await store.record_chat_messages(
        [said(acme.bot, "1001", "2", "again"), said(acme.bot, "1001", "2", "again")]
    )
    assert found[1] is None
    again = found[0]
    assert again is not None
    assert not again.created
    assert again.chat.id == chat.id
    assert again.chat.unread == 2
    messages = await store.chat_messages(acme.account_id, chat.id, 1, 50)
    assert [m.text for m in messages or []] == ["hello", "again"]


async def test_a_chat_waits_unassigned_without_an_active_operator_and_is_taken_later(
    store: Store, acme: Setup
) -> None:
    [ann] = await ops(store, acme.account_id, acme.org_id, "Ann")
    await store.set_operator_status(acme.account_id, ann, INACTIVE)
    [a] = await store.record_chat_messages([said(acme.bot, "1", "1")])
    [b] = await store.record_chat_messages([said(acme.bot, "2", "1")])
    assert a is not None
    assert b is not None
    assert a.chat.operator_id is None
    assert b.chat.operator_id is None
    # Ann comes back: she takes the organization's unassigned open chats, and says which
    back = await store.set_operator_status(acme.account_id, ann, ACTIVE)
    assert back is not None
    assert [(c.id, c.operator_id) for c in back.placed] == [(a.chat.id, ann), (b.chat.id, ann)]
    page = await store.list_chats(acme.account_id, query(acme))
    assert {c.operator_id for c in page.items} == {ann}
    # Bob joins; Ann leaves: her chats go to Bob, in the same transaction
    [bob] = await ops(store, acme.account_id, acme.org_id, "Bob")
    gone = await store.set_operator_status(acme.account_id, ann, DELETED)
    assert gone is not None
    assert [(c.id, c.operator_id) for c in gone.placed] == [(a.chat.id, bob), (b.chat.id, bob)]
    page = await store.list_chats(acme.account_id, query(acme))
    assert {c.operator_id for c in page.items} == {bob}
    # setting the status it has already places nothing
    same = await store.set_operator_status(acme.account_id, bob, ACTIVE)
    assert same is not None
    assert same.placed == []
    # Bob goes inactive with nobody left: the chats are released
    released = await store.set_operator_status(acme.account_id, bob, INACTIVE)
    assert released is not None
    assert [(c.id, c.operator_id) for c in released.placed] == [
        (a.chat.id, None),
        (b.chat.id, None),
    ]
    page = await store.list_chats(acme.account_id, query(acme))
    assert {c.operator_id for c in page.items} == {None}


async def test_messages_to_unknown_bots_or_unowned_bots(store: Store, acme: Setup) -> None:
    assert await store.record_chat_messages([said("no-such-bot", "1", "1")]) == [None]
    loose = await _bot(store, acme.account_id, "telegram")  # no organization owns it
    [found] = await store.record_chat_messages([said(loose, "1", "1")])
    assert found is not None
    assert (found.chat.organization_id, found.chat.operator_id) == (None, None)
    # operators' views leave it out; a company's includes it
    assert (await store.list_chats(acme.account_id, query(acme))).total == 0
    company = ChatQuery(frozenset({acme.org_id}), include_unowned=True)
    assert (await store.list_chats(acme.account_id, company)).total == 1


async def test_list_filters_and_pages(store: Store, acme: Setup, clock: ManualClock) -> None:
    [ann] = await ops(store, acme.account_id, acme.org_id, "Ann")
    await store.link_contact("viber_bot", acme.viber, "+380501230002", "vu-2")
    created = []
    for i in range(5):
        clock.advance(10)
        [a] = await store.record_chat_messages([said(acme.bot, str(100 + i), "1", f"text {i}")])
        assert a is not None
        created.append(a.chat)
    clock.advance(10)
    [v] = await store.record_chat_messages(
        [
            said(
                acme.viber,
                "vu-2",
                "t1",
                "Where is my 50% order?",
                channel="viber_bot",
                name="Iryna",
            )
        ]
    )
    assert v is not None
    everything = await store.list_chats(acme.account_id, query(acme))
    assert everything.total == 6
    assert [c.id for c in everything.items] == [v.chat.id] + [c.id for c in reversed(created)]
    page2 = await store.list_chats(acme.account_id, query(acme, page=2, per_page=4))
    assert (page2.total, [c.id for c in page2.items]) == (6, [created[1].id, created[0].id])
    viber = await store.list_chats(acme.account_id, query(acme, channel="viber_bot"))
    assert [c.id for c in viber.items] == [v.chat.id]
    by_phone = await store.list_chats(acme.account_id, query(acme, phone="+380501230002"))
    assert [c.id for c in by_phone.items] == [v.chat.id]
    by_address = await store.list_chats(acme.account_id, query(acme, address="102"))
    assert [c.id for c in by_address.items] == [created[2].id]
    # search: a name (any case), a message's text, and a literal % that is no wildcard
    for needle in ("iryna", "50% ORDER", "Where"):
        found = await store.list_chats(acme.account_id, query(acme, search=needle))
        assert [c.id for c in found.items] == [v.chat.id], needle
    assert (await store.list_chats(acme.account_id, query(acme, search="0%o"))).total == 0
    assert (await store.list_chats(acme.account_id, query(acme, search="text 3"))).total == 1
    # dates bound the last message
    t = created[2].last_message_at_ms
    ranged = await store.list_chats(
        acme.account_id, query(acme, date_from_ms=t, date_to_ms=t + 10_000)
    )
    assert [c.id for c in ranged.items] == [created[3].id, created[2].id]
    await store.set_chat_status(acme.account_id, created[0].id, ChatStatus.CLOSED)
    closed = await store.list_chats(acme.account_id, query(acme, status=ChatStatus.CLOSED))
    assert [c.id for c in closed.items] == [created[0].id]
    mine = await store.list_chats(acme.account_id, query(acme, operator_id=ann))
    assert mine.total == 6
    # another account sees none of them
    other = await store.create_account("other", "Other")
    assert (await store.list_chats(other.id, query(acme))).total == 0
    assert await store.chat(other.id, v.chat.id) is None


async def test_operator_messages_settle_and_follow_receipts(store: Store, acme: Setup) -> None:
    await ops(store, acme.account_id, acme.org_id, "Ann")
    [a] = await store.record_chat_messages([said(acme.viber, "vu", "t1", channel="viber_bot")])
    assert a is not None
    entry = await store.add_operator_message(acme.account_id, a.chat.id, "Hi!")
    assert entry is not None
    assert (entry.message.status, entry.message.author) == (ChatMessageStatus.NEW, Author.OPERATOR)
    assert entry.chat.status is ChatStatus.OPEN  # an operator took the new chat up
    settled = await store.settle_operator_message(entry.message.id, ChatMessageStatus.NEW, "tok-1")
    assert settled is not None
    assert settled.message.provider_id == "tok-1"

    def report(state: str, pid: str = "tok-1", channel: str = "viber_bot") -> DeliveryReport:
        return DeliveryReport(channel, pid, state, 0)  # type: ignore[arg-type]

    found = await store.record_chat_receipts([report("delivered"), report("delivered", "x")])
    assert found.matched == [True, False]
    assert [c.message.status for c in found.changed] == [ChatMessageStatus.SUCCESS]
    found = await store.record_chat_receipts([report("read"), report("delivered")])
    assert found.matched == [True, True]
    assert [c.message.status for c in found.changed] == [ChatMessageStatus.READ]  # never back
    assert (
        await store.record_chat_receipts([report("delivered", channel="telegram")])
    ).matched == [False]
    # a receipt that came before its send was settled is kept, and applied then
    second = await store.add_operator_message(acme.account_id, a.chat.id, "Second")
    assert second is not None
    assert (await store.record_chat_receipts([report("delivered", "tok-2")])).matched == [False]
    await store.record_reports([report("delivered", "tok-2")])  # the engine keeps it
    late = await store.settle_operator_message(second.message.id, ChatMessageStatus.NEW, "tok-2")
    assert late is not None
    assert late.message.status is ChatMessageStatus.SUCCESS
    rejected = await store.add_operator_message(acme.account_id, a.chat.id, "Third")
    assert rejected is not None
    gone = await store.settle_operator_message(
        rejected.message.id, ChatMessageStatus.REJECTED, None, "BLOCKED"
    )
    assert gone is not None
    assert gone.message.status is ChatMessageStatus.REJECTED
    assert await store.add_operator_message(acme.account_id, 999_999, "nobody") is None


async def test_media_uploads_fetches_and_retries(
    store: Store, acme: Setup, clock: ManualClock
) -> None:
    photo = said(
        acme.bot,
        "1",
        "1",
        "",
        content=ChatContent.PHOTO,
        media=MediaRef("file-1", "cat.jpg", "image/jpeg", 3),
    )
    [a] = await store.record_chat_messages([photo])
    assert a is not None
    assert a.message.media_pending
    assert a.message.text == "[photo]"
    [due] = await store.claim_due_media()
    assert (due.message_id, due.bot_id, due.ref, due.name, due.tries) == (
        a.message.id,
        acme.bot,
        "file-1",
        "cat.jpg",
        0,
    )
    # leased: no one else takes it meanwhile; due again when the lease runs out unsettled
    assert await store.claim_due_media() == []
    clock.advance(60)
    [leased_again] = await store.claim_due_media(lease_ms=1000)
    assert leased_again.message_id == a.message.id
    await store.chat_media_failed(
        a.message.id, "MEDIA_UNAVAILABLE: HTTP 502", clock.now_ms() + 5000
    )
    assert await store.claim_due_media() == []
    clock.advance(5)
    [again] = await store.claim_due_media()
    assert again.tries == 1
    entry = await store.attach_chat_media(
        a.message.id, NewMedia("cat.jpg", "image/jpeg", b"\xff\xd8x")
    )
    assert entry is not None
    assert entry.message.media is not None
    assert not entry.message.media_pending
    assert entry.message.media_error is None
    assert await store.attach_chat_media(a.message.id, NewMedia("x", "x/y", b"1")) is None
    assert await store.claim_due_media() == []
    media = entry.message.media
    stored = await store.chat_media(acme.account_id, a.chat.id, media.id)
    assert stored is not None
    assert stored.data == b"\xff\xd8x"
    assert stored.info.size == 3
    assert await store.chat_media(acme.account_id, a.chat.id + 1, media.id) is None
    public = await store.public_chat_media(media.token)
    assert public is not None
    assert public.data == b"\xff\xd8x"
    assert await store.public_chat_media("not-a-token") is None
    # an operator's upload, and a location as text
    up = await store.add_operator_message(
        acme.account_id, a.chat.id, "", NewMedia("a.png", "image/png", b"png")
    )
    assert up is not None
    assert up.message.media is not None
    assert up.message.content == "photo"
    [where] = await store.record_chat_messages(
        [said(acme.bot, "1", "2", "", content=ChatContent.LOCATION, location=GeoPoint(50.45, 30.5))]
    )
    assert where is not None
    assert where.message.text == "Location: 50.450000, 30.500000"
    # deleting the chat takes its messages and media with it
    assert await store.delete_chat(acme.account_id, a.chat.id)
    assert await store.public_chat_media(media.token) is None
    assert await store.chat_messages(acme.account_id, a.chat.id, 1, 50) is None
    assert not await store.delete_chat(acme.account_id, a.chat.id)


async def test_a_closed_chat_reopens_and_read_resets_unread(store: Store, acme: Setup) -> None:
    await ops(store, acme.account_id, acme.org_id, "Ann")
    [a] = await store.record_chat_messages([said(acme.bot, "1", "1")])
    assert a is not None
    await store.set_chat_status(acme.account_id, a.chat.id, ChatStatus.CLOSED)
    [b] = await store.record_chat_messages([said(acme.bot, "1", "2")])
    assert b is not None
    assert b.chat.id == a.chat.id
    assert b.chat.status is ChatStatus.NEW
    assert b.chat.unread == 2
    assert b.reopened
    [c] = await store.record_chat_messages([said(acme.bot, "1", "3")])
    assert c is not None
    assert not c.reopened
    await store.mark_chat_read(acme.account_id, a.chat.id)
    chat = await store.chat(acme.account_id, a.chat.id)
    assert chat is not None
    assert chat.unread == 0


async def test_stats_count_by_status_and_first_response_times(
    store: Store, acme: Setup, clock: ManualClock
) -> None:
    await ops(store, acme.account_id, acme.org_id, "Ann")
    arrivals = []
    for address in ("1", "2", "3"):
        [a] = await store.record_chat_messages([said(acme.bot, address, "1")])
        assert a is not None
        arrivals.append(a.chat.id)
    clock.advance(30)
    await store.add_operator_message(acme.account_id, arrivals[0], "first answer")
    clock.advance(60)
    await store.add_operator_message(acme.account_id, arrivals[1], "later")
    await store.add_operator_message(acme.account_id, arrivals[0], "not the first")
    await store.set_chat_status(acme.account_id, arrivals[2], ChatStatus.CLOSED)
    stats = await store.chat_stats(acme.account_id)
    assert stats.by_status == {
        ChatStatus.NEW: 0,
        ChatStatus.OPEN: 2,
        ChatStatus.WAITING: 0,
        ChatStatus.ON_PAUSE: 0,
        ChatStatus.CLOSED: 1,
    }
    assert sorted(stats.first_response_ms) == [30_000, 90_000]
    assert stats.median_first_response_ms == 60_000
    other = await store.create_account("other", "Other")
    assert (await store.chat_stats(other.id)).first_response_ms == []
    # the metrics' figures: every account's chats, first responses counted into buckets
    figures = await store.figures(clock.now_ms(), [29_999, 30_000, 90_000])
    assert {k: v for k, v in figures.chats_by_status.items() if v} == {
        ChatStatus.OPEN: 2,
        ChatStatus.CLOSED: 1,
    }
    assert (figures.first_responses, figures.first_response_sum_ms) == (2, 120_000)
    assert list(figures.first_response_le) == [0, 1, 2]


async def test_two_fetchers_at_once_never_claim_the_same_media(store: Store, acme: Setup) -> None:
    photos = [
        said(acme.bot, str(i), "1", "", content=ChatContent.PHOTO, media=MediaRef(f"f{i}"))
        for i in range(6)
    ]
    assert None not in await store.record_chat_messages(photos)
    first, second = await asyncio.gather(
        store.claim_due_media(limit=6), store.claim_due_media(limit=6)
    )
    claimed = [p.message_id for p in first + second]
    assert len(claimed) == len(set(claimed)) == 6
