"""The price table in every store backend (memory, SQLite, PostgreSQL): a load replaces
the whole table in one transaction, prices come back exact, each load has a greater
version; and the `PriceBook` that keeps the table reads it again only after a load."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from cascade.clock import ManualClock
from cascade.domain.prices import Price, PriceTable
from cascade.store import PriceStore
from cascade.store import schema as t
from cascade.store.memory import MemoryStore
from cascade.store.price_book import CHECK_S, PriceBook
from cascade.store.sql import SqlStore
from tests.test_store_contract import rows

Store = SqlStore | MemoryStore


@pytest.fixture
def store(any_store: Store) -> Store:
    return any_store


def table(*prices: tuple[str, str, str], currency: str = "EUR") -> PriceTable:
    return PriceTable(Price(c, p, Decimal(v), currency) for c, p, v in prices)


FIRST = table(
    ("sms", "380", "0.015"),
    ("sms", "38050", "0.000001"),
    ("viber_business", "380", "999999999.999999"),
    ("flashcall", "1", "0"),
)


async def test_no_table_before_the_first_load(store: Store) -> None:
    assert await store.price_version() == 0
    empty = await store.price_table()
    assert len(empty) == 0
    assert empty.version == 0


async def test_a_loaded_table_reads_back_exactly(store: Store) -> None:
    version = await store.load_prices(FIRST)
    assert version > 0
    assert await store.price_version() == version
    read = await store.price_table()
    assert read.version == version
    assert read.prices == FIRST.prices  # Decimal equality: every digit kept
    assert [str(p.price) for p in read.prices] == ["0", "0.015", "0.000001", "999999999.999999"]


async def test_prices_are_stored_as_whole_millionths(store: Store) -> None:
    version = await store.load_prices(FIRST)
    stored = {(r.channel, r.country_prefix): r for r in await rows(store, t.prices)}
    assert stored[("sms", "380")].price_micros == 15_000
    assert stored[("viber_business", "380")].price_micros == 999_999_999_999_999
    assert {r.load_id for r in stored.values()} == {version}
    assert {r.currency for r in stored.values()} == {"EUR"}


async def test_a_load_replaces_the_whole_table(store: Store, clock: ManualClock) -> None:
    first = await store.load_prices(FIRST)
    clock.advance(60)
    second_table = table(("sms", "380", "2.5"), ("rcs", "44", "0.1"), currency="UAH")
    second = await store.load_prices(second_table)
    assert second > first
    read = await store.price_table()
    assert read.prices == second_table.prices  # nothing of the first table is left
    assert read.version == second
    assert read.currency == "UAH"
    loads = sorted(await rows(store, t.price_loads))
    assert [(r.prices, r.loaded_at) for r in loads] == [
        (4, clock.now_ms() - 60_000),
        (2, clock.now_ms()),
    ]


async def test_an_empty_load_clears_the_table(store: Store) -> None:
    first = await store.load_prices(FIRST)
    cleared = await store.load_prices(PriceTable())
    assert cleared > first
    read = await store.price_table()
    assert len(read) == 0
    assert read.version == cleared
    assert await rows(store, t.prices) == []


@pytest.mark.parametrize("bad", ["0.0000001", "-0.01", "1000000000"])
async def test_a_price_the_table_cannot_hold_changes_nothing(store: Store, bad: str) -> None:
    version = await store.load_prices(FIRST)
    with pytest.raises(ValueError, match="a price is non-negative"):
        await store.load_prices(table(("sms", "380", "1"), ("sms", "44", bad)))
    assert await store.price_version() == version
    assert (await store.price_table()).prices == FIRST.prices


async def test_concurrent_loads_leave_one_whole_table(store: Store) -> None:
    tables = [table(("sms", "380", str(i)), (("rcs", "38", str(i)))) for i in range(1, 6)]
    versions = await asyncio.gather(*(store.load_prices(each) for each in tables))
    assert len(set(versions)) == len(versions)
    read = await store.price_table()
    assert read.version == max(versions)
    # the table of the load that came last, whole: never a mix of two loads
    assert read.prices == tables[versions.index(max(versions))].prices


# --- the price book -------------------------------------------------------------------------


class Counting:
    """A price store that counts what it is asked."""

    def __init__(self, store: PriceStore) -> None:
        self.store = store
        self.versions = 0
        self.tables = 0

    async def load_prices(self, prices: PriceTable) -> int:
        return await self.store.load_prices(prices)

    async def price_version(self) -> int:
        self.versions += 1
        return await self.store.price_version()

    async def price_table(self) -> PriceTable:
        self.tables += 1
        return await self.store.price_table()


async def test_the_book_reads_a_new_table_once_its_check_is_due(
    store: Store, clock: ManualClock
) -> None:
    counting = Counting(store)
    book = PriceBook(counting, clock)
    first = await store.load_prices(FIRST)
    assert (await book.table()).version == first
    assert counting.tables == 1

    second = await store.load_prices(table(("sms", "380", "0.02")))
    clock.advance(CHECK_S / 2)
    assert (await book.table()).version == first  # kept: not asked within the second
    assert (counting.versions, counting.tables) == (0, 1)

    clock.advance(CHECK_S / 2)
    renewed = await book.table()
    assert renewed.version == second
    assert renewed.prices == (Price("sms", "380", Decimal("0.02"), "EUR"),)
    assert (counting.versions, counting.tables) == (1, 2)


async def test_the_book_keeps_its_table_while_the_version_stands(
    store: Store, clock: ManualClock
) -> None:
    counting = Counting(store)
    book = PriceBook(counting, clock)
    await store.load_prices(FIRST)
    kept = await book.table()
    for _ in range(3):
        clock.advance(CHECK_S)
        assert await book.table() is kept
    assert (counting.versions, counting.tables) == (3, 1)


async def test_callers_at_once_share_one_look_at_the_store(clock: ManualClock) -> None:
    store = MemoryStore(clock)
    await store.load_prices(FIRST)
    counting = Counting(store)
    book = PriceBook(counting, clock)
    tables = await asyncio.gather(*(book.table() for _ in range(20)))
    assert all(each is tables[0] for each in tables)
    assert counting.tables == 1


class Failing(Counting):
    fail = True

    async def price_version(self) -> int:
        if self.fail:
            raise RuntimeError("database down")
        return await super().price_version()


async def test_a_failed_check_is_asked_again_on_the_next_call(clock: ManualClock) -> None:
    store = MemoryStore(clock)
    first = await store.load_prices(FIRST)
    failing = Failing(store)
    book = PriceBook(failing, clock)
    assert (await book.table()).version == first  # the first read needs no version
    second = await store.load_prices(PriceTable())
    clock.advance(CHECK_S)
    with pytest.raises(RuntimeError, match="database down"):
        await book.table()
    failing.fail = False
    assert (await book.table()).version == second
