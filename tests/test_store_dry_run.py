"""What a dry run reads of the store (SPEC A9), one contract for every backend (in memory,
SQLite, PostgreSQL): the tracking ids already stored, and nothing written."""

from __future__ import annotations

import pytest

from cascade.store.memory import MemoryStore
from cascade.store.sql import SqlStore
from tests.conftest import TestAccount, make_account
from tests.test_store_contract import draft, new

Store = SqlStore | MemoryStore


@pytest.fixture
def store(any_store: Store) -> Store:
    """Every backend: in memory, SQLite, PostgreSQL."""
    return any_store


async def test_stored_tracking_ids_are_the_accounts_own_with_their_fingerprints(
    store: Store, account: TestAccount
) -> None:
    kept = draft("kept")
    [message_id] = await store.accept(account.id, [new(kept)])
    other = await make_account(store, "other")
    assert await store.stored_tracking_ids(account.id, ["kept", "missing"]) == {
        "kept": (message_id, kept.fingerprint)
    }
    assert await store.stored_tracking_ids(other.id, ["kept"]) == {}
    assert await store.stored_tracking_ids(account.id, []) == {}
    assert await store.pending_tasks() == 1  # read only
