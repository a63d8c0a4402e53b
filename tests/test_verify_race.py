"""Flash-call codes under parallel guesses (issue 11): the attempt limit holds on every
backend, however many guesses arrive at once.

The store here has a connection for every guess, so on PostgreSQL all of them really run
at the same time; on SQLite they queue on the single writer.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from cascade.clock import ManualClock
from cascade.domain.delivery import code_hash
from cascade.store import schema as t
from cascade.store.sql import SqlStore
from tests.conftest import TestAccount, make_account, wipe
from tests.test_store_contract import draft, new

GUESSES = 50
ATTEMPTS = 3
CODE = "4567"
LIFETIME_MS = 60_000


@pytest.fixture
async def racing_store(db_url: str, clock: ManualClock) -> AsyncIterator[SqlStore]:
    store = SqlStore(db_url, clock, sqlite_synchronous="NORMAL", pool_size=GUESSES)
    if store.dialect == "postgresql":
        await wipe(store)
        # open the connections up front, so the guesses start together
        await asyncio.gather(*(store.ping() for _ in range(GUESSES)))
    yield store
    await store.close()


async def flash_call(store: SqlStore, clock: ManualClock, account: TestAccount) -> str:
    """A message whose code is CODE, with ATTEMPTS attempts and LIFETIME_MS to live."""
    [message_id] = await store.accept(
        account.id, [new(draft(str(uuid.uuid4()), now_ms=clock.now_ms()))]
    )
    hashed = code_hash(message_id, CODE)
    expires = clock.now_ms() + LIFETIME_MS
    await store._transact(
        lambda conn: store._set_verification(conn, message_id, hashed, ATTEMPTS, expires)
    )
    return message_id


async def state(store: SqlStore, message_id: str) -> tuple[int, int | None]:
    """The code's (attempts_left, verified_at) as stored."""
    v = t.verifications.c
    async with store._reader.connect() as conn:
        row = (
            await conn.execute(
                sa.select(v.attempts_left, v.verified_at).where(v.message_id == message_id)
            )
        ).one()
    return row[0], row[1]


def wrong_codes(message_id: str) -> list[str]:
    return [code_hash(message_id, f"{i:04d}") for i in range(GUESSES)]  # CODE is not among


async def guess_all(
    store: SqlStore, account: TestAccount, message_id: str, hashes: list[str]
) -> list[str]:
    return list(
        await asyncio.gather(*(store.verify_code(account.id, message_id, h) for h in hashes))
    )


async def test_parallel_wrong_guesses_get_only_the_allowed_attempts(
    racing_store: SqlStore, clock: ManualClock
) -> None:
    store = racing_store
    account = await make_account(store)
    message_id = await flash_call(store, clock, account)

    results = await guess_all(store, account, message_id, wrong_codes(message_id))

    # exactly ATTEMPTS guesses were judged: WRONG, WRONG, then EXHAUSTED for the last
    # attempt; every other guess found none left
    assert Counter(results) == {"WRONG": ATTEMPTS - 1, "EXHAUSTED": GUESSES - ATTEMPTS + 1}
    assert await state(store, message_id) == (0, None)
    right = code_hash(message_id, CODE)
    assert await store.verify_code(account.id, message_id, right) == "EXHAUSTED"
    assert await state(store, message_id) == (0, None)


@pytest.mark.parametrize("position", [0, GUESSES // 2, GUESSES - 1])
async def test_the_right_code_among_parallel_guesses_counts_only_within_the_attempts(
    racing_store: SqlStore, clock: ManualClock, position: int
) -> None:
    store = racing_store
    account = await make_account(store)
    message_id = await flash_call(store, clock, account)
    hashes = wrong_codes(message_id)
    hashes[position] = code_hash(message_id, CODE)

    results = await guess_all(store, account, message_id, hashes)

    left, verified_at = await state(store, message_id)
    assert 0 <= left <= ATTEMPTS, (left, results[position], Counter(results))
    if results[position] == "OK":
        # judged while attempts were left: only wrong guesses judged before it used any
        # (ATTEMPTS - left of them, so it was among the first ATTEMPTS judged); every
        # guess after it met a verified code: WRONG, using none
        assert left >= 1
        assert verified_at == clock.now_ms()
        assert Counter(results) == {"OK": 1, "WRONG": GUESSES - 1}
    else:
        # the attempts ran out on wrong guesses first: the right code failed like the rest
        assert results[position] == "EXHAUSTED"
        assert (left, verified_at) == (0, None)
        assert Counter(results) == {"WRONG": ATTEMPTS - 1, "EXHAUSTED": GUESSES - ATTEMPTS + 1}


async def test_verify_code_results_one_by_one(racing_store: SqlStore, clock: ManualClock) -> None:
    store = racing_store
    account = await make_account(store)
    other = await make_account(store, "other")
    message_id = await flash_call(store, clock, account)
    right, wrong = code_hash(message_id, CODE), code_hash(message_id, "0000")
    check = store.verify_code

    assert await check(account.id, "no-such-message", right) == "UNKNOWN"
    assert await check(other.id, message_id, right) == "UNKNOWN"
    assert await state(store, message_id) == (ATTEMPTS, None)
    assert await check(account.id, message_id, wrong) == "WRONG"
    assert await state(store, message_id) == (ATTEMPTS - 1, None)
    # the right code uses no attempt; once verified, it stays OK and a wrong one is WRONG
    assert await check(account.id, message_id, right) == "OK"
    assert await state(store, message_id) == (ATTEMPTS - 1, clock.now_ms())
    at = clock.now_ms()
    clock.advance(LIFETIME_MS)
    assert await check(account.id, message_id, right) == "OK"
    assert await check(account.id, message_id, wrong) == "WRONG"
    assert await state(store, message_id) == (ATTEMPTS - 1, at)

    # an expired code fails without using an attempt, the right one too
    late = await flash_call(store, clock, account)
    clock.advance(LIFETIME_MS)
    assert await check(account.id, late, code_hash(late, CODE)) == "EXPIRED"
    assert await check(account.id, late, code_hash(late, "0000")) == "EXPIRED"
    assert await state(store, late) == (ATTEMPTS, None)

    # no attempts left tells so before the expiry
    spent = await flash_call(store, clock, account)
    for _ in range(ATTEMPTS):
        await check(account.id, spent, code_hash(spent, "0000"))
    clock.advance(LIFETIME_MS)
    assert await check(account.id, spent, code_hash(spent, CODE)) == "EXHAUSTED"
    assert await state(store, spent) == (0, None)
