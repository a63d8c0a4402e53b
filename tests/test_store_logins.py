"""Logins and suspension, one contract for every store backend: in memory, SQLite and
PostgreSQL (conftest's `any_store`), as tests/test_store_contract.py."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from cascade.clock import ManualClock
from cascade.store import Login, LoginTaken
from cascade.store import schema as t
from cascade.store.memory import MemoryStore
from cascade.store.sql import SqlStore
from tests.test_store_contract import rows

Store = SqlStore | MemoryStore


@pytest.fixture
def store(any_store: Store) -> Store:
    return any_store


# --- logins ---------------------------------------------------------------------------------


async def test_a_login_is_stored_and_found(store: Store) -> None:
    acct = await store.create_account("acme", "Acme")
    assert await store.find_login("shop") is None
    assert await store.set_login(acct.id, "shop", "$argon2id$one") is True
    assert await store.find_login("shop") == Login("shop", acct.id, "$argon2id$one")
    assert await store.find_login("other") is None


async def test_setting_a_login_again_replaces_its_password_hash(
    store: Store, clock: ManualClock
) -> None:
    acct = await store.create_account("acme", "Acme")
    await store.set_login(acct.id, "shop", "$argon2id$one")
    clock.advance(5)
    assert await store.set_login(acct.id, "shop", "$argon2id$two") is True
    assert await store.find_login("shop") == Login("shop", acct.id, "$argon2id$two")
    [row] = await rows(store, t.logins, t.logins.c.login == "shop")
    assert row.updated_at - row.created_at == 5_000


async def test_a_login_of_an_unknown_account_is_refused(store: Store) -> None:
    assert await store.set_login(str(uuid.uuid4()), "ghost", "$argon2id$x") is False
    assert await store.find_login("ghost") is None
    assert await rows(store, t.logins) == []


async def test_a_login_name_is_unique_across_accounts(store: Store) -> None:
    first = await store.create_account("first", "First")
    second = await store.create_account("second", "Second")
    await store.set_login(first.id, "shared", "$argon2id$first")
    with pytest.raises(LoginTaken) as refused:
        await store.set_login(second.id, "shared", "$argon2id$second")
    assert refused.value.login == "shared"
    assert await store.find_login("shared") == Login("shared", first.id, "$argon2id$first")


async def test_an_account_may_have_several_logins(store: Store) -> None:
    acct = await store.create_account("acme", "Acme")
    await store.set_login(acct.id, "ops", "$argon2id$ops")
    await store.set_login(acct.id, "billing", "$argon2id$billing")
    assert await store.find_login("ops") == Login("ops", acct.id, "$argon2id$ops")
    assert await store.find_login("billing") == Login("billing", acct.id, "$argon2id$billing")


async def test_login_names_match_exactly(store: Store) -> None:
    """The same name in another case is another login, in every backend."""
    a = await store.create_account("a", "A")
    b = await store.create_account("b", "B")
    await store.set_login(a.id, "Shop", "$argon2id$a")
    assert await store.find_login("shop") is None
    assert await store.set_login(b.id, "shop", "$argon2id$b") is True
    assert (await store.find_login("Shop")) == Login("Shop", a.id, "$argon2id$a")


async def test_a_rehash_is_stored_unless_the_password_changed_meanwhile(store: Store) -> None:
    acct = await store.create_account("acme", "Acme")
    await store.set_login(acct.id, "shop", "$argon2id$old-params")
    assert await store.replace_password_hash("shop", "$argon2id$old-params", "$argon2id$new")
    assert await store.find_login("shop") == Login("shop", acct.id, "$argon2id$new")
    # The password was set again since the hash was read: the stale rehash is dropped.
    await store.set_login(acct.id, "shop", "$argon2id$changed")
    assert not await store.replace_password_hash("shop", "$argon2id$new", "$argon2id$stale")
    assert await store.find_login("shop") == Login("shop", acct.id, "$argon2id$changed")
    assert not await store.replace_password_hash("nobody", "$argon2id$x", "$argon2id$y")


# --- suspension -----------------------------------------------------------------------------


async def test_an_account_is_suspended_and_restored(store: Store) -> None:
    acct = await store.create_account("acme", "Acme")
    other = await store.create_account("other", "Other")
    assert acct.suspended is False
    assert await store.set_suspended(acct.id, True) is True
    assert await store.get_account(acct.id) == dataclasses.replace(acct, suspended=True)
    assert await store.find_account("acme") == dataclasses.replace(acct, suspended=True)
    assert await store.get_account(other.id) == other  # only that account
    [row] = await rows(store, t.accounts, t.accounts.c.id == acct.id)
    assert row.suspended_at is not None

    assert await store.set_suspended(acct.id, False) is True
    assert await store.get_account(acct.id) == acct


async def test_suspending_an_unknown_account_is_false(store: Store) -> None:
    assert await store.set_suspended(str(uuid.uuid4()), True) is False
