"""ChatHub's organizations, their bots and operators, and the installation's secrets: one
contract for every store backend (in memory, SQLite, PostgreSQL: conftest's `any_store`)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from cascade.clock import ManualClock
from cascade.domain.chats import Operator, OperatorStatus, OperatorSync, Organization
from cascade.security import hash_secret
from cascade.store import NotFound
from cascade.store import schema as t
from cascade.store.memory import MemoryStore
from cascade.store.sql import SqlStore
from tests.test_store_contract import rows

Store = SqlStore | MemoryStore
ACTIVE, INACTIVE, DELETED = OperatorStatus


@pytest.fixture
def store(any_store: Store) -> Store:
    return any_store


async def add_operator(store: Store, account_id: str, organization_id: int, name: str) -> Operator:
    [added] = await store.synchronize_operators(account_id, [OperatorSync(organization_id, name)])
    return added


async def _bot(store: Store, account_id: str, channel: str = "telegram") -> str:
    token = f"{channel}-{uuid.uuid4()}"
    return await store.add_bot(account_id, channel, token, hash_secret(token))


# --- the installation's secrets -----------------------------------------------------------


async def test_the_first_secret_stored_is_the_one_every_caller_gets(store: Store) -> None:
    assert await store.installation_secret("jwt", "first") == "first"
    assert await store.installation_secret("jwt", "second") == "first"
    assert await store.installation_secret("other", "third") == "third"
    assert [r.value for r in await rows(store, t.installation_secrets)] == ["first", "third"]


async def test_concurrent_first_callers_agree_on_one_secret(store: Store) -> None:
    got = await asyncio.gather(*(store.installation_secret("jwt", f"c{i}") for i in range(8)))
    assert len(set(got)) == 1
    assert got[0] in {f"c{i}" for i in range(8)}


# --- organizations -------------------------------------------------------------------------


async def test_organizations_are_listed_per_account_oldest_first(store: Store) -> None:
    acme = await store.create_account("acme", "Acme")
    other = await store.create_account("other", "Other")
    sales = await store.create_organization(acme.id, "Sales")
    theirs = await store.create_organization(other.id, "Theirs")
    support = await store.create_organization(acme.id, "Support")
    assert sales == Organization(sales.id, acme.id, "Sales")
    assert len({sales.id, theirs.id, support.id}) == 3
    assert await store.organizations(acme.id) == [sales, support]
    assert await store.organizations(other.id) == [theirs]
    assert await store.organizations(str(uuid.uuid4())) == []
    assert await store.organization(theirs.id) == theirs
    assert await store.organization(support.id + theirs.id + sales.id) is None


async def test_an_organization_of_an_unknown_account_is_refused(store: Store) -> None:
    with pytest.raises(NotFound) as refused:
        await store.create_organization(str(uuid.uuid4()), "Ghosts")
    assert refused.value.what == "account"
    assert await rows(store, t.organizations) == []


async def test_bots_are_attached_and_the_organization_of_a_bot_found(store: Store) -> None:
    acme = await store.create_account("acme", "Acme")
    org = await store.create_organization(acme.id, "Support")
    tg, viber = await _bot(store, acme.id), await _bot(store, acme.id, "viber_bot")
    assert await store.bot_organization(tg) is None
    await store.attach_bots(acme.id, org.id, [tg, viber, tg])  # a repeat is one bot
    assert sorted(await store.organization_bots(org.id)) == sorted([tg, viber])
    assert await store.bot_organization(tg) == org
    assert await store.bot_organization(viber) == org


async def test_a_bot_belongs_to_at_most_one_organization(store: Store, clock: ManualClock) -> None:
    acme = await store.create_account("acme", "Acme")
    first = await store.create_organization(acme.id, "First")
    second = await store.create_organization(acme.id, "Second")
    bot, kept = await _bot(store, acme.id), await _bot(store, acme.id)
    await store.attach_bots(acme.id, first.id, [bot, kept])
    clock.advance(1)
    await store.attach_bots(acme.id, second.id, [bot])  # moved, not shared
    assert await store.organization_bots(first.id) == [kept]
    assert await store.organization_bots(second.id) == [bot]
    assert await store.bot_organization(bot) == second
    assert len(await rows(store, t.organization_bots)) == 2


async def test_another_accounts_bot_or_organization_is_not_attached(store: Store) -> None:
    acme = await store.create_account("acme", "Acme")
    other = await store.create_account("other", "Other")
    ours = await store.create_organization(acme.id, "Ours")
    theirs = await store.create_organization(other.id, "Theirs")
    our_bot, their_bot = await _bot(store, acme.id), await _bot(store, other.id)
    with pytest.raises(NotFound) as refused:
        await store.attach_bots(acme.id, ours.id, [our_bot, their_bot])
    assert (refused.value.what, refused.value.key) == ("bot", their_bot)
    with pytest.raises(NotFound) as refused:
        await store.attach_bots(acme.id, theirs.id, [our_bot])
    assert (refused.value.what, refused.value.key) == ("organization", theirs.id)
    with pytest.raises(NotFound):
        await store.attach_bots(acme.id, ours.id, ["no-such-bot"])
    assert await rows(store, t.organization_bots) == []  # nothing of a refused call


# --- operators -----------------------------------------------------------------------------


async def test_operators_added_get_the_next_id_of_their_account(store: Store) -> None:
    acme = await store.create_account("acme", "Acme")
    other = await store.create_account("other", "Other")
    org = await store.create_organization(acme.id, "Support")
    their_org = await store.create_organization(other.id, "Theirs")
    ann = await add_operator(store, acme.id, org.id, "Ann")
    bob = await add_operator(store, acme.id, org.id, "Bob")
    eve = await add_operator(store, other.id, their_org.id, "Eve")
    assert ann == Operator(1, acme.id, org.id, "Ann", ACTIVE)
    assert bob.id == 2
    assert eve == Operator(1, other.id, their_org.id, "Eve", ACTIVE)  # ids are per account
    assert await store.operator(acme.id, 1) == ann
    assert await store.operator(other.id, 1) == eve
    assert await store.operator(other.id, 2) is None


async def test_operators_are_listed_by_id_per_organization(store: Store) -> None:
    acme = await store.create_account("acme", "Acme")
    sales = await store.create_organization(acme.id, "Sales")
    support = await store.create_organization(acme.id, "Support")
    ann = await add_operator(store, acme.id, support.id, "Ann")
    bob = await add_operator(store, acme.id, sales.id, "Bob")
    cid = await add_operator(store, acme.id, support.id, "Cid")
    assert await store.operators(acme.id) == [ann, bob, cid]
    assert await store.operators(acme.id, support.id) == [ann, cid]
    assert await store.operators(acme.id, sales.id) == [bob]
    assert await store.operators(str(uuid.uuid4())) == []


async def test_an_operator_of_another_accounts_organization_is_refused(store: Store) -> None:
    acme = await store.create_account("acme", "Acme")
    other = await store.create_account("other", "Other")
    theirs = await store.create_organization(other.id, "Theirs")
    with pytest.raises(NotFound) as refused:
        await add_operator(store, acme.id, theirs.id, "Mallory")
    assert refused.value.what == "organization"
    assert await rows(store, t.operators) == []


async def test_synchronize_upserts_by_the_companys_own_ids(
    store: Store, clock: ManualClock
) -> None:
    acme = await store.create_account("acme", "Acme")
    sales = await store.create_organization(acme.id, "Sales")
    support = await store.create_organization(acme.id, "Support")
    first = await store.synchronize_operators(
        acme.id, [OperatorSync(support.id, "Ann", 100), OperatorSync(support.id, "Bob", 7)]
    )
    assert first == [
        Operator(100, acme.id, support.id, "Ann", ACTIVE),
        Operator(7, acme.id, support.id, "Bob", ACTIVE),
    ]
    await store.set_operator_status(acme.id, 7, INACTIVE)
    clock.advance(3)
    second = await store.synchronize_operators(
        acme.id,
        [
            OperatorSync(sales.id, "Bob Smith", 7),  # renamed, moved; its status stays
            OperatorSync(support.id, "New"),  # no id: the next after the highest (100)
            OperatorSync(support.id, "Newer"),
        ],
    )
    assert second == [
        Operator(7, acme.id, sales.id, "Bob Smith", INACTIVE),
        Operator(101, acme.id, support.id, "New", ACTIVE),
        Operator(102, acme.id, support.id, "Newer", ACTIVE),
    ]
    # Ann, not named, is left as she was
    assert await store.operator(acme.id, 100) == first[0]
    assert [o.id for o in await store.operators(acme.id)] == [7, 100, 101, 102]
    [bob] = await rows(store, t.operators, t.operators.c.id == 7)
    assert bob.updated_at - bob.created_at == 3_000


async def test_an_id_picked_skips_ids_named_in_the_same_request(store: Store) -> None:
    acme = await store.create_account("acme", "Acme")
    org = await store.create_organization(acme.id, "Support")
    result = await store.synchronize_operators(
        acme.id, [OperatorSync(org.id, "Picked"), OperatorSync(org.id, "Named", 1)]
    )
    assert [(o.id, o.name) for o in result] == [(2, "Picked"), (1, "Named")]


async def test_a_synchronize_naming_a_foreign_organization_writes_nothing(store: Store) -> None:
    acme = await store.create_account("acme", "Acme")
    other = await store.create_account("other", "Other")
    ours = await store.create_organization(acme.id, "Ours")
    theirs = await store.create_organization(other.id, "Theirs")
    with pytest.raises(NotFound) as refused:
        await store.synchronize_operators(
            acme.id, [OperatorSync(ours.id, "Ann", 1), OperatorSync(theirs.id, "Bob", 2)]
        )
    assert (refused.value.what, refused.value.key) == ("organization", theirs.id)
    assert await rows(store, t.operators) == []


async def test_concurrent_additions_get_distinct_ids(store: Store) -> None:
    acme = await store.create_account("acme", "Acme")
    org = await store.create_organization(acme.id, "Support")
    added = await asyncio.gather(
        *(add_operator(store, acme.id, org.id, f"op{i}") for i in range(6))
    )
    assert sorted(o.id for o in added) == [1, 2, 3, 4, 5, 6]


async def test_an_operators_status_is_set_and_kept(store: Store) -> None:
    acme = await store.create_account("acme", "Acme")
    other = await store.create_account("other", "Other")
    org = await store.create_organization(acme.id, "Support")
    ann = await add_operator(store, acme.id, org.id, "Ann")
    changed = await store.set_operator_status(acme.id, ann.id, DELETED)
    assert changed is not None
    assert changed.operator == Operator(ann.id, acme.id, org.id, "Ann", DELETED)
    assert changed.placed == []  # no chats to place
    assert (await store.operator(acme.id, ann.id)) == Operator(
        ann.id, acme.id, org.id, "Ann", DELETED
    )
    assert await store.operators(acme.id) == [Operator(ann.id, acme.id, org.id, "Ann", DELETED)]
    assert await store.set_operator_status(other.id, ann.id, ACTIVE) is None  # not theirs
    assert await store.set_operator_status(acme.id, 999, ACTIVE) is None
    assert (await store.operator(acme.id, ann.id)) is not None
    assert (await store.operator(acme.id, ann.id)).status is DELETED  # type: ignore[union-attr]
