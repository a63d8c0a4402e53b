"""The API's credential cache: one look-up at a time per key, never used past its time."""

from __future__ import annotations

import asyncio

import pytest

from cascade.api.auth import Authenticator, Unauthorized
from cascade.clock import ManualClock
from cascade.security import hash_secret
from cascade.store import Account, Credential, CredentialKind

KEY = "csk_test-key"


class CountingStore:
    """The two look-ups the authenticator makes, counted; each takes a loop turn or more."""

    def __init__(self) -> None:
        self.revoked = False
        self.credential_lookups = 0
        self.account_lookups = 0
        self.gate: asyncio.Event | None = None  # when set, look-ups wait for it

    async def find_credential(self, kind: CredentialKind, secret_hash: str) -> Credential | None:
        self.credential_lookups += 1
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(0)
        if self.revoked or secret_hash != hash_secret(KEY):
            return None
        return Credential("acc", kind, None)

    async def get_account(self, account_id: str) -> Account | None:
        self.account_lookups += 1
        await asyncio.sleep(0)
        return Account(account_id, "A", "A", None, None, None, None)


HEADERS = {"x-authorization-key": KEY}


async def test_requests_arriving_together_share_one_lookup() -> None:
    store = CountingStore()
    auth = Authenticator(store, ManualClock(), cache_seconds=2.0)  # type: ignore[arg-type]
    principals = await asyncio.gather(*(auth.authenticate(HEADERS) for _ in range(32)))
    assert {p.account.id for p in principals} == {"acc"}
    assert store.credential_lookups == 1
    assert store.account_lookups == 1


async def test_a_busy_key_is_refreshed_in_the_background_and_never_waits() -> None:
    clock = ManualClock()
    store = CountingStore()
    auth = Authenticator(store, clock, cache_seconds=2.0)  # type: ignore[arg-type]
    await auth.authenticate(HEADERS)
    clock.advance(1.5)  # past half its time: looked up again, the cached entry answers
    store.gate = asyncio.Event()  # the new look-up cannot finish yet
    principal = await asyncio.wait_for(auth.authenticate(HEADERS), 1)
    assert principal.account.id == "acc"
    assert store.credential_lookups == 2
    await asyncio.wait_for(auth.authenticate(HEADERS), 1)
    assert store.credential_lookups == 2  # one refresh at a time
    store.gate.set()
    await asyncio.sleep(0.01)
    clock.advance(0.8)  # the first entry's time is up; the refreshed one's is not
    await asyncio.wait_for(auth.authenticate(HEADERS), 1)
    assert store.credential_lookups == 2


async def test_a_revoked_key_stops_working_within_the_cache_time() -> None:
    clock = ManualClock()
    store = CountingStore()
    auth = Authenticator(store, clock, cache_seconds=2.0)  # type: ignore[arg-type]
    await auth.authenticate(HEADERS)
    store.revoked = True
    clock.advance(2.0)
    with pytest.raises(Unauthorized):
        await auth.authenticate(HEADERS)
    with pytest.raises(Unauthorized):  # not cached as valid by a refresh either
        await auth.authenticate(HEADERS)


async def test_a_revocation_seen_by_a_refresh_ends_the_entry_at_once() -> None:
    clock = ManualClock()
    store = CountingStore()
    auth = Authenticator(store, clock, cache_seconds=2.0)  # type: ignore[arg-type]
    await auth.authenticate(HEADERS)
    store.revoked = True
    clock.advance(1.5)
    await auth.authenticate(HEADERS)  # still within its time: answered from the cache
    await asyncio.sleep(0.01)  # the refresh finds the key revoked
    with pytest.raises(Unauthorized):
        await auth.authenticate(HEADERS)


async def test_without_a_cache_every_request_looks_up() -> None:
    store = CountingStore()
    auth = Authenticator(store, ManualClock(), cache_seconds=0.0)  # type: ignore[arg-type]
    await asyncio.gather(*(auth.authenticate(HEADERS) for _ in range(3)))
    assert store.credential_lookups == 3
