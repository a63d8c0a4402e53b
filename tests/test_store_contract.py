"""One contract for every store backend: in memory, SQLite and PostgreSQL (the `store`
fixture, over conftest's `any_store`)."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import hashlib
import operator
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.sql.elements import BinaryExpression, BindParameter

from cascade.api.wire import FallbackIn, MessageIn, VariableIn
from cascade.clock import ManualClock
from cascade.domain.content import Action, ActionKind, Button, Content, Media, MediaKind, Step
from cascade.domain.lifecycle import AttemptStatus
from cascade.domain.message import Context, Draft, Form, MessageType, Route, validate
from cascade.domain.records import AttemptChange, Lease, MessageChange, NewAttempt, Transition
from cascade.domain.variables import UNTYPED, ShortLink
from cascade.security import hash_secret, new_link_code
from cascade.store import (
    Account,
    Credential,
    CredentialKind,
    NewMessage,
    TrackingIdConflict,
)
from cascade.store import schema as t
from cascade.store.memory import MemoryStore
from cascade.store.migrate import head_revision
from cascade.store.sql import SqlStore
from tests.conftest import TestAccount, make_account

LINK_BASE = "https://c.test"


def fingerprint(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


NOW = ManualClock().now_ms()  # the `clock` fixture's start


def draft(
    tracking_id: str | None = "t-1",
    *,
    text: str | None = "Hello",
    now_ms: int = NOW,
    **changes: Any,
) -> Draft:
    """A valid transaction Draft; `fingerprint` follows the content unless given."""
    base = Draft(
        tracking_id=tracking_id,
        fingerprint=fingerprint(f"{tracking_id}|{text}"),
        route=Route.STANDARD,
        message_type=MessageType.TRANSACTION,
        from_name="Shop",
        phone="+380501234567",
        text=text,
        survey_options=(),
        fallback=None,
        ttl=3600,
        created_at_ms=now_ms,
        scheduled_at_ms=None,
        due_at_ms=now_ms,
        expires_at_ms=now_ms + 3_600_000,
        short_links=(),
    )
    return dataclasses.replace(base, **changes)


def new(d: Draft, **kwargs: Any) -> NewMessage:
    return NewMessage(str(uuid.uuid4()), d, **kwargs)


def validated(raw: MessageIn, clock: ManualClock, form: Form = "array") -> Draft:
    ctx = Context(
        form=form,
        route=Route.STANDARD,
        now_ms=clock.now_ms(),
        default_from_name="Acme",
        account_variables={},
        link_base=LINK_BASE,
        new_code=new_link_code,
    )
    return validate(raw, fingerprint(repr(raw)), ctx)


Store = SqlStore | MemoryStore


@pytest.fixture
def store(any_store: Store) -> Store:
    """Every backend: in memory, SQLite, PostgreSQL."""
    return any_store


async def count(store: Store, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    """Rows of `table` that match every `column == value` of `where`, in either store."""
    if isinstance(store, MemoryStore):
        return len(await rows(store, table, *where))
    async with store._reader.connect() as conn:
        query = sa.select(sa.func.count()).select_from(table)
        if where:
            query = query.where(*where)
        return int((await conn.execute(query)).scalar_one())


async def rows(store: Store, table: sa.Table, *where: sa.ColumnElement[bool]) -> list[Any]:
    """The rows of `table` that match every `column == value` of `where`, in either store
    (a MemoryStore's rows as named tuples of the schema's columns, as SQL returns them)."""
    if isinstance(store, MemoryStore):
        wanted = [_equality(clause) for clause in where]
        row_type = collections.namedtuple(table.name, [c.name for c in table.columns])  # type: ignore[misc]
        return [
            row_type(**{c.name: found[c.name] for c in table.columns})
            for found in store.rows(table.name)
            if all(found[name] == value for name, value in wanted)
        ]
    async with store._reader.connect() as conn:
        return list(await conn.execute(sa.select(table).where(*where)))


def _equality(clause: sa.ColumnElement[bool]) -> tuple[str, Any]:
    """(column name, value) of a `table.c.column == value` clause."""
    assert isinstance(clause, BinaryExpression)
    assert clause.operator is operator.eq
    assert isinstance(clause.left, sa.Column)
    assert isinstance(clause.right, BindParameter)
    return clause.left.name, clause.right.value


async def totals(store: Store) -> dict[str, int]:
    return {
        table.name: await count(store, table)
        for table in (t.messages, t.tasks, t.short_links, t.clicks)
    }


# --- accounts -------------------------------------------------------------------------------


async def test_create_and_get_account(store: Store) -> None:
    created = await store.create_account("Acme Ltd", "AcmeShop")
    assert created.name == "Acme Ltd"
    assert created.default_from_name == "AcmeShop"
    assert uuid.UUID(created.id)
    assert (created.send_rate, created.send_burst) == (None, None)
    assert (created.status_rate, created.status_burst) == (None, None)
    assert await store.get_account(created.id) == created


async def test_get_unknown_account_is_none(store: Store) -> None:
    assert await store.get_account(str(uuid.uuid4())) is None


async def test_find_account_by_name_returns_oldest(store: Store, clock: ManualClock) -> None:
    first = await store.create_account("twin", "One")
    clock.advance(1)
    await store.create_account("twin", "Two")
    other = await store.create_account("other", "Other")
    assert await store.find_account("twin") == first
    assert await store.find_account("other") == other
    assert await store.find_account("nobody") is None


async def test_accounts_get_distinct_ids(store: Store) -> None:
    a = await store.create_account("a", "A")
    b = await store.create_account("a", "A")
    assert a.id != b.id


async def test_set_account_limits(store: Store) -> None:
    acct = await store.create_account("limited", "L")
    assert await store.set_account_limits(acct.id, send=(10.0, 20)) is True
    got = await store.get_account(acct.id)
    assert got == dataclasses.replace(acct, send_rate=10.0, send_burst=20)

    assert await store.set_account_limits(acct.id, status=(5.5, 7)) is True
    got = await store.get_account(acct.id)
    assert got == Account(acct.id, "limited", "L", 10.0, 20, 5.5, 7)

    assert await store.set_account_limits(acct.id, send=(200.0, 300), status=(1.0, 1)) is True
    got = await store.get_account(acct.id)
    assert got == Account(acct.id, "limited", "L", 200.0, 300, 1.0, 1)


async def test_set_limits_of_unknown_account_is_false(store: Store) -> None:
    assert await store.set_account_limits(str(uuid.uuid4()), send=(1.0, 1)) is False


async def test_set_limits_touches_only_that_account(store: Store) -> None:
    a = await store.create_account("a", "A")
    b = await store.create_account("b", "B")
    await store.set_account_limits(a.id, send=(1.0, 2))
    assert await store.get_account(b.id) == b


# --- credentials ------------------------------------------------------------------------------


async def test_api_key_lookup_and_revoke(store: Store) -> None:
    acct = await store.create_account("acme", "Acme")
    key_hash = hash_secret("csk_secret-one")
    key_id = await store.add_api_key(acct.id, key_hash)
    assert uuid.UUID(key_id)
    found = await store.find_credential(CredentialKind.API_KEY, key_hash)
    assert found == Credential(acct.id, CredentialKind.API_KEY, None)

    assert await store.find_credential(CredentialKind.API_KEY, hash_secret("other")) is None

    assert await store.revoke_api_key(key_id) is True
    assert await store.find_credential(CredentialKind.API_KEY, key_hash) is None
    assert await store.revoke_api_key(key_id) is False  # already revoked
    assert await store.revoke_api_key(str(uuid.uuid4())) is False


async def test_revoking_one_key_keeps_the_others(store: Store) -> None:
    acct = await store.create_account("acme", "Acme")
    old = await store.add_api_key(acct.id, hash_secret("old"))
    await store.add_api_key(acct.id, hash_secret("new"))
    await store.revoke_api_key(old)
    found = await store.find_credential(CredentialKind.API_KEY, hash_secret("new"))
    assert found is not None
    assert found.account_id == acct.id


async def test_api_key_is_not_a_bot_token(store: Store) -> None:
    acct = await store.create_account("acme", "Acme")
    key_hash = hash_secret("csk_key")
    await store.add_api_key(acct.id, key_hash)
    assert await store.find_credential(CredentialKind.BOT, key_hash) is None


async def test_key_stored_only_as_hash(store: Store) -> None:
    acct = await store.create_account("acme", "Acme")
    key_hash = hash_secret("csk_plain")
    key_id = await store.add_api_key(acct.id, key_hash)
    [row] = await rows(store, t.api_keys, t.api_keys.c.id == key_id)
    assert row.key_hash == key_hash
    assert "csk_plain" not in repr(tuple(row))


@pytest.mark.parametrize("channel", ["telegram", "viber_bot"])
async def test_bot_lookup_names_the_bots_channel(store: Store, channel: str) -> None:
    """The credential names the bot's channel: the API refuses a bot token under another
    bot channel's header (test_api_contract)."""
    acct = await store.create_account("acme", "Acme")
    token = f"{channel}-token-123"
    bot_id = await store.add_bot(acct.id, channel, token, hash_secret(token))
    assert uuid.UUID(bot_id)
    found = await store.find_credential(CredentialKind.BOT, hash_secret(token))
    assert found == Credential(acct.id, CredentialKind.BOT, bot_id, channel)
    assert await store.find_credential(CredentialKind.API_KEY, hash_secret(token)) is None
    assert await store.find_credential(CredentialKind.BOT, hash_secret("unknown")) is None


async def test_bots_of_two_accounts(store: Store) -> None:
    a = await store.create_account("a", "A")
    b = await store.create_account("b", "B")
    tg_a = await store.add_bot(a.id, "telegram", "tg-a", hash_secret("tg-a"))
    tg_b = await store.add_bot(b.id, "telegram", "tg-b", hash_secret("tg-b"))
    vb_a = await store.add_bot(a.id, "viber_bot", "vb-a", hash_secret("vb-a"))
    assert await store.find_credential(CredentialKind.BOT, hash_secret("tg-a")) == (
        Credential(a.id, CredentialKind.BOT, tg_a, "telegram")
    )
    assert await store.find_credential(CredentialKind.BOT, hash_secret("tg-b")) == (
        Credential(b.id, CredentialKind.BOT, tg_b, "telegram")
    )
    assert await store.find_credential(CredentialKind.BOT, hash_secret("vb-a")) == (
        Credential(a.id, CredentialKind.BOT, vb_a, "viber_bot")
    )


# --- accept ---------------------------------------------------------------------------------


async def test_accept_commits_messages_and_one_task_each(
    store: Store, account: TestAccount, clock: ManualClock
) -> None:
    now = clock.now_ms()
    items = [
        new(draft("a-1", text="one")),
        new(draft("a-2", text="two", due_at_ms=now + 60_000, scheduled_at_ms=now + 60_000)),
        new(draft(None, text="three")),
    ]
    ids = await store.accept(account.id, items)
    assert ids == [item.id for item in items]
    assert await totals(store) == {"messages": 3, "tasks": 3, "short_links": 0, "clicks": 0}

    stored = {r.id: r for r in await rows(store, t.messages)}
    assert set(stored) == set(ids)
    first = stored[ids[0]]
    assert first.account_id == account.id
    assert first.tracking_id == "a-1"
    assert bytes(first.fingerprint) == items[0].draft.fingerprint
    assert (first.route, first.message_type) == ("standard", "transaction")
    assert (first.from_name, first.phone, first.text) == ("Shop", "+380501234567", "one")
    assert (first.ttl, first.status) == (3600, "scheduled")
    assert (first.created_at, first.updated_at) == (now, now)
    assert first.expires_at == now + 3_600_000
    assert first.scheduled_at is None
    assert stored[ids[1]].scheduled_at == now + 60_000
    # no tracking id (envelope form): the message id doubles as tracking id
    assert stored[ids[2]].tracking_id == ids[2]

    tasks = {r.message_id: r for r in await rows(store, t.tasks)}
    assert set(tasks) == set(ids)
    assert tasks[ids[0]].due_at == now
    assert tasks[ids[1]].due_at == now + 60_000
    assert all(task.lease_owner is None and task.tries == 0 for task in tasks.values())


async def test_accept_stores_survey_fallback_and_bots(
    store: Store, account: TestAccount, clock: ManualClock
) -> None:
    survey = validated(
        MessageIn(
            id="s-1",
            from_name="Shop",
            to_phone="+380501234567",
            message_type="viber_survey",
            text="Rate us",
            survey_options=["Good", "Bad"],
        ),
        clock,
    )
    flash = validated(
        MessageIn(
            id="f-1",
            from_name="Shop",
            to_phone="+380501234567",
            message_type="flashcall",
            fallback=FallbackIn(message_type="promo", text="Code 1234"),
        ),
        clock,
    )
    tg = await store.add_bot(account.id, "telegram", "tg", hash_secret("tg"))
    vb = await store.add_bot(account.id, "viber_bot", "vb", hash_secret("vb"))
    ids = await store.accept(account.id, [new(survey, pinned_bots=(tg, vb)), new(flash)])
    [s] = await rows(store, t.messages, t.messages.c.id == ids[0])
    [f] = await rows(store, t.messages, t.messages.c.id == ids[1])
    assert (s.message_type, s.ttl, s.text) == ("viber_survey", 604_800, "Rate us")
    assert s.survey_options is not None
    assert "Good" in s.survey_options
    assert "Bad" in s.survey_options
    assert s.pinned_bots == f"{tg},{vb}"
    assert (f.message_type, f.ttl, f.text) == ("flashcall", 300, None)
    assert f.fallback is not None
    assert "Code 1234" in f.fallback
    assert "promo" in f.fallback
    assert f.pinned_bots is None


PLAN = (
    Step(
        "viber_business",
        Content(
            text="Spring sale",
            media=Media(MediaKind.IMAGE, "https://img.test/sale.png"),
            buttons=(Button("Shop", Action(ActionKind.OPEN_URL, url="https://shop.test/s")),),
        ),
        message_type="promo",
        wire_type="viber_promo",
    ),
    Step("rcs", Content(text="Sale", suggestions=(Button("Yes", Action(ActionKind.REPLY)),))),
    Step("sms", Content(text="Sale: https://shop.test/s"), wire_type="sms"),
)


async def test_a_plan_is_kept_with_its_message_and_handed_to_the_engine(
    store: Store, account: TestAccount, clock: ManualClock
) -> None:
    planned, routed = draft("p-1", plan=PLAN), draft("p-2")
    ids = await store.accept(account.id, [new(planned), new(routed)])
    stored = {r.id: r for r in await rows(store, t.messages)}
    # compact: empty fields are left out of the column, and a message without one has none
    assert stored[ids[0]].plan is not None
    assert "null" not in stored[ids[0]].plan
    assert stored[ids[1]].plan is None

    claimed = {c.message_id: c for c in await store.claim("w-1", clock.now_ms(), 30_000, 10)}
    assert claimed[ids[0]].plan == PLAN
    assert claimed[ids[1]].plan == ()
    view = await store.message_view(account.id, message_id=ids[0])
    assert view is not None
    assert view.plan == PLAN
    other = await store.message_view(account.id, message_id=ids[1])
    assert other is not None
    assert other.plan == ()


async def test_accept_stores_short_links(
    store: Store, account: TestAccount, clock: ManualClock
) -> None:
    d = validated(
        MessageIn(
            id="l-1",
            from_name="Shop",
            to_phone="+380501234567",
            message_type="promo",
            text="Sale %short_url=1% and %short_url=2%",
            variables=[
                VariableIn(1, "https://shop.example/sale", "short_url"),
                VariableIn(2, "https://shop.example/faq", "short_url"),
            ],
        ),
        clock,
    )
    assert len(d.short_links) == 2
    [message_id] = await store.accept(account.id, [new(d)])
    links = {r.code: r for r in await rows(store, t.short_links)}
    assert set(links) == {link.code for link in d.short_links}
    for link in d.short_links:
        assert links[link.code].url == link.url
        assert links[link.code].message_id == message_id
        assert links[link.code].created_at == clock.now_ms()
        assert f"{LINK_BASE}/s/{link.code}" in (d.text or "")


async def test_idempotent_repeat_returns_stored_id_and_inserts_nothing(
    store: Store, account: TestAccount, clock: ManualClock
) -> None:
    link = ShortLink("AbCdEf12", "https://a.example")
    first = new(draft("r-1", short_links=(link,)))
    [stored_id] = await store.accept(account.id, [first])
    before = await totals(store)
    assert before == {"messages": 1, "tasks": 1, "short_links": 1, "clicks": 0}

    clock.advance(30)
    retry = new(draft("r-1", short_links=(ShortLink("Zz999999", "https://a.example"),)))
    assert retry.id != stored_id
    assert await store.accept(account.id, [retry]) == [stored_id]
    assert await totals(store) == before
    assert await count(store, t.messages, t.messages.c.id == retry.id) == 0


async def test_repeat_mixed_with_new_items(store: Store, account: TestAccount) -> None:
    [old_id] = await store.accept(account.id, [new(draft("m-1"))])
    batch = [new(draft("m-0")), new(draft("m-1")), new(draft("m-2"))]
    ids = await store.accept(account.id, batch)
    assert ids == [batch[0].id, old_id, batch[2].id]
    assert await count(store, t.messages) == 3
    assert await count(store, t.tasks) == 3


async def test_different_fingerprint_conflicts_and_stores_nothing(
    store: Store, account: TestAccount
) -> None:
    [stored_id] = await store.accept(account.id, [new(draft("c-1", text="original"))])
    before = await totals(store)
    batch = [
        new(draft("c-0", text="fresh", short_links=(ShortLink("Fresh001", "https://f.example"),))),
        new(draft("c-2", text="fresh too")),
        new(draft("c-1", text="changed")),
        new(draft("c-3", text="after")),
    ]
    with pytest.raises(TrackingIdConflict) as caught:
        await store.accept(account.id, batch)
    assert caught.value.index == 2
    assert await totals(store) == before
    view = await store.message_view(account.id, tracking_id="c-1")
    assert view is not None
    assert (view.id, view.text) == (stored_id, "original")


async def test_conflict_at_first_index(store: Store, account: TestAccount) -> None:
    await store.accept(account.id, [new(draft("x"))])
    with pytest.raises(TrackingIdConflict) as caught:
        await store.accept(account.id, [new(draft("x", text="other")), new(draft("y"))])
    assert caught.value.index == 0
    assert await count(store, t.messages) == 1


async def test_tracking_ids_are_per_account(store: Store) -> None:
    a = await make_account(store, "a")
    b = await make_account(store, "b")
    [a_id] = await store.accept(a.id, [new(draft("shared", text="for a"))])
    [b_id] = await store.accept(b.id, [new(draft("shared", text="for b"))])
    assert a_id != b_id
    view_a = await store.message_view(a.id, tracking_id="shared")
    view_b = await store.message_view(b.id, tracking_id="shared")
    assert view_a is not None
    assert view_b is not None
    assert (view_a.id, view_a.text) == (a_id, "for a")
    assert (view_b.id, view_b.text) == (b_id, "for b")


async def test_concurrent_identical_accepts_store_one_message(
    store: Store, account: TestAccount
) -> None:
    """Two retries racing each other: one message, and both answers carry its id."""
    items = [[new(draft(f"race-{n}")) for n in range(20)] for _ in range(4)]
    results = await asyncio.gather(
        *(store.accept(account.id, batch) for batch in items), return_exceptions=True
    )
    assert all(result == results[0] for result in results), results
    assert isinstance(results[0], list)
    assert await count(store, t.messages) == 20
    assert await count(store, t.tasks) == 20


async def test_concurrent_conflicting_accepts(store: Store, account: TestAccount) -> None:
    one = [new(draft("race", text="one"))]
    two = [new(draft("race", text="two"))]
    outcomes = await asyncio.gather(
        store.accept(account.id, one), store.accept(account.id, two), return_exceptions=True
    )
    winners = [o for o in outcomes if isinstance(o, list)]
    losers = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(winners) == 1
    assert len(losers) == 1
    assert isinstance(losers[0], TrackingIdConflict)
    assert losers[0].index == 0
    assert await count(store, t.messages) == 1


# --- id-less messages (envelope form): idempotent by content within a day -----------------


async def test_idless_repeat_within_a_day_returns_stored_id(
    store: Store, account: TestAccount
) -> None:
    [first] = await store.accept(account.id, [new(draft(None, text="same"))])
    later = NOW + 23 * 3_600_000  # crosses midnight UTC: the window is not a calendar day
    again = await store.accept(account.id, [new(draft(None, text="same", now_ms=later))])
    assert again == [first]
    assert await count(store, t.messages) == 1
    assert await count(store, t.tasks) == 1


async def test_idless_repeat_after_the_window_is_new(store: Store, account: TestAccount) -> None:
    [first] = await store.accept(account.id, [new(draft(None, text="same"))])
    later = NOW + 25 * 3_600_000
    [second] = await store.accept(account.id, [new(draft(None, text="same", now_ms=later))])
    assert second != first
    assert await count(store, t.messages) == 2


async def test_idless_different_content_is_new(store: Store, account: TestAccount) -> None:
    [first] = await store.accept(account.id, [new(draft(None, text="one"))])
    [second] = await store.accept(account.id, [new(draft(None, text="two"))])
    assert second != first
    assert await count(store, t.messages) == 2


async def test_idless_repeat_is_per_account(store: Store) -> None:
    a = await make_account(store, "a")
    b = await make_account(store, "b")
    [a_id] = await store.accept(a.id, [new(draft(None, text="same"))])
    [b_id] = await store.accept(b.id, [new(draft(None, text="same"))])
    assert a_id != b_id
    assert await count(store, t.messages) == 2


async def test_concurrent_idless_repeats_store_one_message(
    store: Store, account: TestAccount
) -> None:
    batches = [[new(draft(None, text=f"race {n}")) for n in range(10)] for _ in range(4)]
    results = await asyncio.gather(
        *(store.accept(account.id, batch) for batch in batches), return_exceptions=True
    )
    assert all(result == results[0] for result in results), results
    assert isinstance(results[0], list)
    assert await count(store, t.messages) == 10


async def test_accept_nothing(store: Store, account: TestAccount) -> None:
    assert await store.accept(account.id, []) == []
    assert await count(store, t.messages) == 0


async def test_accept_a_large_batch(store: Store, account: TestAccount) -> None:
    batch = [new(draft(f"bulk-{n:05d}")) for n in range(1_200)]  # more than one IN chunk
    ids = await store.accept(account.id, batch)
    assert ids == [item.id for item in batch]
    assert await count(store, t.messages) == 1_200
    again = await store.accept(account.id, [new(draft(f"bulk-{n:05d}")) for n in range(1_200)])
    assert again == ids
    assert await count(store, t.tasks) == 1_200


async def test_accept_long_tracking_id_and_longest_phone(
    store: Store, account: TestAccount
) -> None:
    long_id = "t" * 255
    d = draft(long_id, phone="+123456789012345", from_name="F" * 28)
    [message_id] = await store.accept(account.id, [new(d)])
    view = await store.message_view(account.id, tracking_id=long_id)
    assert view is not None
    assert view.id == message_id
    assert view.phone == "+123456789012345"


# --- variables ------------------------------------------------------------------------------


async def test_account_variables_round_trip(store: Store, account: TestAccount) -> None:
    assert await store.account_variables(account.id) == {}
    values = {
        ("name", 1): "John",
        ("url", 1): "12345",
        ("short_url", 2): "https://a.example",
        (UNTYPED, 3): "untyped",
    }
    await store.upsert_variables(account.id, values)
    assert await store.account_variables(account.id) == values


async def test_upsert_overwrites_and_keeps_the_rest(
    store: Store, account: TestAccount, clock: ManualClock
) -> None:
    await store.upsert_variables(account.id, {("name", 1): "old", ("url", 2): "keep"})
    clock.advance(5)
    await store.upsert_variables(account.id, {("name", 1): "new", (UNTYPED, 1): "added"})
    assert await store.account_variables(account.id) == {
        ("name", 1): "new",
        ("url", 2): "keep",
        (UNTYPED, 1): "added",
    }
    [row] = await rows(
        store, t.variables, t.variables.c.account_id == account.id, t.variables.c.type == "name"
    )
    assert row.updated_at == clock.now_ms()


async def test_upsert_nothing_is_a_no_op(store: Store, account: TestAccount) -> None:
    await store.upsert_variables(account.id, {})
    assert await store.account_variables(account.id) == {}


async def test_variables_are_per_account(store: Store) -> None:
    a = await make_account(store, "a")
    b = await make_account(store, "b")
    await store.upsert_variables(a.id, {("name", 1): "A"})
    await store.upsert_variables(b.id, {("name", 1): "B"})
    assert await store.account_variables(a.id) == {("name", 1): "A"}
    assert await store.account_variables(b.id) == {("name", 1): "B"}


# --- reading back -------------------------------------------------------------------------


async def test_message_view_by_id_and_by_tracking_id(
    store: Store, account: TestAccount, clock: ManualClock
) -> None:
    now = clock.now_ms()
    d = draft(
        "v-1",
        text="Hi",
        message_type=MessageType.PROMO,
        route=Route.TG_VIBER,
        scheduled_at_ms=now + 1_000,
        due_at_ms=now + 1_000,
        expires_at_ms=now + 1_000 + 3_600_000,
    )
    [message_id] = await store.accept(account.id, [new(d)])
    by_id = await store.message_view(account.id, message_id=message_id)
    by_tracking = await store.message_view(account.id, tracking_id="v-1")
    assert by_id is not None
    assert by_id == by_tracking
    assert by_id.id == message_id
    assert by_id.tracking_id == "v-1"
    assert (by_id.status, by_id.channel, by_id.reason) == ("scheduled", None, None)
    assert (by_id.message_type, by_id.route) == ("promo", "tg-viber")
    assert (by_id.phone, by_id.text) == ("+380501234567", "Hi")
    assert (by_id.created_at_ms, by_id.updated_at_ms) == (now, now)
    assert by_id.scheduled_at_ms == now + 1_000
    assert by_id.expires_at_ms == now + 1_000 + 3_600_000
    assert by_id.attempts == ()
    assert by_id.clicks == 0


async def test_message_view_of_envelope_message_by_its_id_as_tracking_id(
    store: Store, account: TestAccount
) -> None:
    [message_id] = await store.accept(account.id, [new(draft(None))])
    view = await store.message_view(account.id, tracking_id=message_id)
    assert view is not None
    assert (view.id, view.tracking_id) == (message_id, message_id)


async def test_message_view_tenant_isolation(store: Store) -> None:
    owner = await make_account(store, "owner")
    other = await make_account(store, "other")
    [message_id] = await store.accept(owner.id, [new(draft("private"))])
    assert await store.message_view(other.id, message_id=message_id) is None
    assert await store.message_view(other.id, tracking_id="private") is None
    assert await store.message_view(owner.id, message_id=message_id) is not None


async def test_message_view_unknown(store: Store, account: TestAccount) -> None:
    assert await store.message_view(account.id, message_id=str(uuid.uuid4())) is None
    assert await store.message_view(account.id, tracking_id="never-sent") is None
    assert await store.message_view(account.id, message_id="not-a-uuid") is None


# --- short links and clicks ---------------------------------------------------------------


async def test_follow_link_records_clicks(
    store: Store, account: TestAccount, clock: ManualClock
) -> None:
    links = (ShortLink("Lnk00001", "https://a.example/x"), ShortLink("Lnk00002", "https://b.ex"))
    [message_id] = await store.accept(account.id, [new(draft("click", short_links=links))])
    [quiet_id] = await store.accept(
        account.id,
        [new(draft("quiet", short_links=(ShortLink("Lnk00003", "https://a.example/x"),)))],
    )

    at = clock.now_ms() + 5_000
    assert await store.follow_link("Lnk00001", at, "Mozilla/5.0 (phone)") == "https://a.example/x"
    assert await store.follow_link("Lnk00001", at + 1, None) == "https://a.example/x"
    assert await store.follow_link("Lnk00002", at + 2, "curl/8") == "https://b.ex"

    clicks = sorted(await rows(store, t.clicks), key=lambda r: r.at)
    assert [(c.code, c.at, c.user_agent) for c in clicks] == [
        ("Lnk00001", at, "Mozilla/5.0 (phone)"),
        ("Lnk00001", at + 1, None),
        ("Lnk00002", at + 2, "curl/8"),
    ]
    view = await store.message_view(account.id, message_id=message_id)
    assert view is not None
    assert view.clicks == 3
    quiet = await store.message_view(account.id, message_id=quiet_id)
    assert quiet is not None
    assert quiet.clicks == 0


async def test_follow_unknown_link(store: Store, account: TestAccount) -> None:
    await store.accept(
        account.id, [new(draft("k", short_links=(ShortLink("Known001", "https://a.ex"),)))]
    )
    assert await store.follow_link("Unknown1", 0, "ua") is None
    assert await store.follow_link("known001", 0, "ua") is None  # codes are case-sensitive
    assert await store.follow_link("", 0, None) is None
    assert await count(store, t.clicks) == 0


# --- health ---------------------------------------------------------------------------------


async def test_ping_and_schema_revision(store: Store) -> None:
    await store.ping()
    assert await store.schema_revision() == head_revision()


async def test_figures_count_the_due_backlog_and_its_oldest(
    store: Store, account: TestAccount, clock: ManualClock
) -> None:
    """What /metrics reads (`cascade_due_tasks`, `cascade_oldest_due_age_seconds`): tasks due
    now and not claimed; a scheduled one counts once its time has come."""
    assert (await store.figures(clock.now_ms(), [])).due == 0
    first = draft("f-1")
    clock.advance(5)
    second = draft("f-2", now_ms=clock.now_ms())
    later = draft(
        "f-3", now_ms=clock.now_ms(), scheduled_at_ms=NOW + 60_000, due_at_ms=NOW + 60_000
    )
    await store.accept(account.id, [new(first), new(second), new(later)])
    figures = await store.figures(clock.now_ms(), [])
    assert (figures.due, figures.oldest_due_at_ms) == (2, NOW)
    [claimed] = await store.claim("w-1", clock.now_ms(), 120_000, 1)  # the oldest, leased
    assert (await store.figures(clock.now_ms(), [])).oldest_due_at_ms == NOW + 5_000
    assert (await store.figures(NOW + 60_000, [])).due == 2  # f-2 and f-3; f-1 is leased
    assert claimed.tracking_id == "f-1"


async def test_open_tasks_names_the_messages_that_can_still_be_claimed(
    store: Store, account: TestAccount, clock: ManualClock
) -> None:
    """A message's task lives until the transition that ends it: the e2e tests wait on
    its absence (with a final status) to know nothing more can be sent for it."""
    due, leased, ended = await store.accept(
        account.id, [new(draft("o-1")), new(draft("o-2")), new(draft("o-3"))]
    )
    assert await store.open_tasks([]) == set()
    claimed = await store.claim("w-1", clock.now_ms(), 30_000, 10)
    assert {c.message_id for c in claimed} == {due, leased, ended}
    # the end of a message and of its task are one transaction
    done = MessageChange(ended, "delivered", 0, "telegram", None, None)
    later = MessageChange(due, "processing", 0, None, None, clock.now_ms() + 60_000)
    await store.apply([Transition(done), Transition(later)])

    assert await store.open_tasks([due, leased, ended, "no-such-message"]) == {due, leased}
    assert await store.open_tasks([ended]) == set()
    assert await store.pending_tasks() == 2  # read only


def _intent(message_id: str, at_ms: int) -> tuple[NewAttempt, Transition]:
    """A send's intent and its plan, as the worker commits them just before it leaves."""
    attempt = NewAttempt(
        str(uuid.uuid4()),
        message_id,
        0,
        "telegram",
        AttemptStatus.SENDING,
        None,
        "bot-1",
        "+380501234567",
        at_ms,
        None,
    )
    plan = MessageChange(message_id, "processing", 0, "telegram", None, None, store_task=False)
    return attempt, Transition(plan)


async def test_a_write_under_a_lease_is_refused_once_another_claim_took_the_task(
    store: Store, account: TestAccount, clock: ManualClock
) -> None:
    """The fencing that keeps two workers from sending one message: a worker whose lease
    ran out while its send waited, and whose task another worker has claimed since, can
    no longer commit the intent (so it does not send) nor a result for it."""
    kept, lost = await store.accept(account.id, [new(draft("l-1")), new(draft("l-2"))])
    first_at = clock.now_ms()
    assert len(await store.claim("w-1", first_at, 1_000, 10)) == 2
    first = Lease("w-1", first_at + 1_000)
    # w-1's lease runs out; the task of `lost` is claimed again (by w-1 itself, even: a
    # later claim of the same worker is another claim)
    clock.advance(2)
    again_at = clock.now_ms()
    later = MessageChange(kept, "processing", 0, None, None, again_at + 60_000)
    await store.apply([Transition(later)])  # `kept` is not due, so not claimed again
    [taken] = await store.claim("w-1", again_at, 1_000, 10)
    assert taken.message_id == lost
    second = Lease("w-1", again_at + 1_000)

    stale, stale_plan = _intent(lost, again_at)
    refused = await store.record_intents([stale], [], [stale_plan], lease=first)
    assert refused == {lost}
    view = await store.message_view(account.id, message_id=lost)
    assert view is not None
    assert view.attempts == ()  # nothing written for it
    # a result under the old lease is refused too, and leaves the task with its new claim
    gone = Transition(MessageChange(lost, "delivered", 0, "telegram", None, None))
    assert await store.record_intents([], [], results=[gone], lease=first) == {lost}
    assert await store.open_tasks([lost]) == {lost}

    # the claim that holds the task writes; in one write, only the held messages are
    # written and the rest refused whole
    fresh, fresh_plan = _intent(lost, again_at)
    other, other_plan = _intent(kept, again_at)
    refused = await store.record_intents([fresh, other], [], [fresh_plan, other_plan], lease=second)
    assert refused == {kept}  # its task was rescheduled: no claim holds it
    view = await store.message_view(account.id, message_id=lost)
    assert view is not None
    assert [a.status for a in view.attempts] == [AttemptStatus.SENDING]
    view = await store.message_view(account.id, message_id=kept)
    assert view is not None
    assert view.attempts == ()
    # a resent attempt is fenced by its message too
    resend = AttemptChange(fresh.id, AttemptStatus.SENDING, None)
    assert await store.record_intents([], [resend], lease=first) == {lost}
    assert await store.record_intents([], [resend], lease=second) == frozenset()
    # without a lease (the engine's own tools, tests) nothing is fenced
    assert await store.record_intents([], [], results=[gone]) == frozenset()
    assert await store.open_tasks([lost]) == set()


async def test_a_look_up_by_an_id_with_a_nul_finds_nothing(
    store: Store, account: TestAccount
) -> None:
    """No message has a NUL in its id or tracking id (intake refuses one; PostgreSQL could
    not compare it): the look-ups every surface makes by a caller's id answer none."""
    await store.accept(account.id, [new(draft("t-"))])
    for wanted in ({"message_id": "m\x00"}, {"tracking_id": "t-\x00"}):
        assert await store.message_view(account.id, **wanted) is None
        assert await store.message_history(account.id, **wanted) == []
    assert await store.message_view(account.id, tracking_id="t-") is not None
