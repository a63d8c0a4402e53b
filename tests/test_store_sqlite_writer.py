"""SQLite's writer: work handed in together shares one transaction, each piece in its own
savepoint; writers of every process queue on a lock file beside the database."""

from __future__ import annotations

import asyncio
import fcntl
import sqlite3
import sys
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cascade.clock import ManualClock
from cascade.store.base import StoreError
from cascade.store.sql import SqlStore
from cascade.store.sqlite_runtime import SqliteTransactor
from tests.live_simulator import wait_for


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    path = tmp_path / "w.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
    store = SqlStore(f"sqlite:///{path}", ManualClock())
    yield store
    await store.close()


def insert(n: int) -> Callable[[Connection], int]:
    def work(conn: Connection) -> int:
        conn.exec_driver_sql("INSERT INTO t (n) VALUES (?)", (n,))
        return n

    return work


class Hold:
    """Work that keeps the writer busy until released."""

    def __init__(self, then: Callable[[], None] = lambda: None) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        self._then = then

    def __call__(self, conn: Connection) -> None:
        self.entered.set()
        self.release.wait(10)
        self._then()

    async def started(self, store: SqlStore) -> asyncio.Task[None]:
        task = asyncio.create_task(store._transact(self))
        await asyncio.to_thread(self.entered.wait, 10)
        return task


def writer(store: SqlStore) -> SqliteTransactor:
    assert store._transactor is not None  # SQLite's: a writer thread of its own
    return store._transactor


def committed(store: SqlStore) -> list[int]:
    path = sa.engine.make_url(store.url).database
    with sqlite3.connect(str(path)) as db:
        return [n for (n,) in db.execute("SELECT n FROM t ORDER BY n")]


async def test_work_waiting_together_shares_one_transaction_and_a_failure_stays_its_own(
    store: SqlStore,
) -> None:
    hold = Hold()
    first = await hold.started(store)
    # these wait behind `hold`, so the writer takes them as one group
    seen_by_others: list[list[int]] = []

    def look(conn: Connection) -> None:
        seen_by_others.append(committed(store))  # another connection: nothing committed yet

    pieces = [
        asyncio.create_task(store._transact(insert(1))),
        asyncio.create_task(store._transact(insert(1))),  # the same key: fails
        asyncio.create_task(store._transact(insert(2))),
        asyncio.create_task(store._transact(look)),
    ]
    await wait_for(lambda: writer(store).queued() == len(pieces))  # all behind `hold`
    hold.release.set()
    await first
    results = await asyncio.gather(*pieces, return_exceptions=True)
    assert results[0] == 1
    assert results[2] == 2
    assert results[3] is None
    assert isinstance(results[1], StoreError)  # raised to its own caller only
    assert seen_by_others == [[]]  # 1 and 2 were not committed before the group ended
    assert committed(store) == [1, 2]


async def test_work_alone_that_fails_stores_nothing(store: SqlStore) -> None:
    def fail(conn: Connection) -> None:
        conn.exec_driver_sql("INSERT INTO t (n) VALUES (?)", (7,))
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await store._transact(fail)
    assert await store._transact(insert(8)) == 8
    assert committed(store) == [8]


async def test_work_that_raises_beyond_exception_leaves_the_writer_working(
    store: SqlStore,
) -> None:
    class Stop(BaseException):
        pass

    def stop(conn: Connection) -> None:
        conn.exec_driver_sql("INSERT INTO t (n) VALUES (?)", (7,))
        raise Stop

    with pytest.raises(Stop):
        await asyncio.wait_for(store._transact(stop), 30)
    # the next caller is served (it waited forever when the drain died with the error)
    assert await asyncio.wait_for(store._transact(insert(8)), 30) == 8
    assert committed(store) == [8]


async def test_a_writer_holds_the_lock_file_while_it_works(store: SqlStore) -> None:
    lock_path = f"{sa.engine.make_url(store.url).database}-writer.lock"
    hold = Hold()
    held = await hold.started(store)
    with Path(lock_path).open("rb") as other:  # noqa: ASYNC230 - another writer's own handle
        with pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        hold.release.set()
        await held
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free once the work is done
        fcntl.flock(other, fcntl.LOCK_UN)


async def test_a_second_store_waits_for_the_first_writer(tmp_path: Path) -> None:
    path = tmp_path / "two.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
    one = SqlStore(f"sqlite:///{path}", ManualClock())
    two = SqlStore(f"sqlite:///{path}", ManualClock())
    order: list[str] = []
    hold = Hold(then=lambda: order.append("first done"))

    def after(conn: Connection) -> None:
        order.append("second ran")

    try:
        # the second store's SQLite gives up on a taken lock at once: only the lock file,
        # not SQLite's busy handler, can make it wait its turn
        await two._transact(lambda conn: conn.exec_driver_sql("PRAGMA busy_timeout=0"))
        first = await hold.started(one)
        second = asyncio.create_task(two._transact(after))
        # the second store's writer waits its turn on the lock file (or has failed: below)
        await wait_for(lambda: writer(two).waiting_for_the_lock_file() or second.done())
        assert order == []  # queued behind the first, not failing on SQLite's lock
        assert not second.done()
        hold.release.set()
        await asyncio.gather(first, second)
        assert order == ["first done", "second ran"]
    finally:
        await one.close()
        await two.close()


async def test_threads_take_short_gil_turns_only_while_the_lock_is_held(
    store: SqlStore,
) -> None:
    before = sys.getswitchinterval()
    inside: list[float] = []
    await store._transact(lambda conn: inside.append(sys.getswitchinterval()))
    assert inside == [pytest.approx(0.0001)]
    assert sys.getswitchinterval() == before
