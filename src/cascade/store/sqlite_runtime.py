"""SQLite's writer runtime: engine setup, the writer thread, the lock file, the GIL switch.

SQLite allows one writer at a time, so writes go through their own engine holding a
single connection whose transactions start with BEGIN IMMEDIATE: writers queue in the
pool instead of failing on a lock upgrade, and other processes wait on busy_timeout.
Reads use a separate pool and, thanks to WAL, never block on the writer.

The hot transactions run whole in one thread that owns a connection of its own
(`SqliteTransactor`), so a transaction is one hand-off from the event loop however many
statements it runs and holds the database lock only while it works, never across turns
of a busy loop; work handed in while the writer is busy shares its next transaction; and
the writers of all processes queue on a lock file (`_WriterQueue`) rather than sleep on
SQLite's lock.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows: writers then queue on busy_timeout
    fcntl = None  # type: ignore[assignment]


T = TypeVar("T")

# No memory map, and a 16 MiB page cache for the writer. With ids time-ordered (UUIDv7)
# new rows land at the right edge of their B-trees, so the writer's hot pages are few;
# 128 MiB of cache and a 1 GiB map (pages it touched count in the process's RSS) took the
# API to 297.5 MiB RSS through 1,000,000 queued messages, past the 150 MB target, for no
# measured gain (bulk intake 19,322 against 20,035 msg/s; SMS end to end within noise).
_SQLITE_MMAP_BYTES = 0
_SQLITE_WRITER_CACHE_KIB = 16 * 1024


def _sqlite_setup(engine: Engine, *, synchronous: str, writer: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (the driver's implicit BEGIN is DEFERRED).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute(f"PRAGMA mmap_size={_SQLITE_MMAP_BYTES}")
        if writer:
            cursor.execute(f"PRAGMA cache_size=-{_SQLITE_WRITER_CACHE_KIB}")
        cursor.close()

    begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)


# Statements' parameters are bot tokens, webhook secrets, password hashes, people's texts:
# SQLAlchemy leaves them out of its errors (which the store's errors carry, and the API
# logs) and of its statement log.
HIDE_PARAMETERS = True


def sqlite_engine(url: str, *, synchronous: str, writer: bool, pool_size: int) -> AsyncEngine:
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=60,
        hide_parameters=HIDE_PARAMETERS,
    )
    _sqlite_setup(engine.sync_engine, synchronous=synchronous, writer=writer)
    return engine


class _WriterQueue:
    """An exclusive lock on a file beside the database, taken before BEGIN IMMEDIATE.

    SQLite's own lock has no queue: a writer that finds it taken sleeps (1, 2, 5, 10 ms…)
    and tries again, so with an API and a worker process writing at once much of each
    one's time went to sleeping after the other had already finished. Writers of every
    process that wait on this `flock` instead are woken by the kernel the moment it is
    released. It only orders Cascade's own writers; SQLite's lock still guards the file
    against anything else (the busy timeout applies as before).
    """

    def __init__(self, database: str | None) -> None:
        # a file of its own (not an in-memory database, not a URI naming a shared one)
        on_disk = database not in (None, "", ":memory:") and not str(database).startswith("file:")
        self._path = f"{database}-writer.lock" if fcntl is not None and on_disk else None
        self._fd: int | None = None
        self.waiting = False  # this writer is waiting for the lock (another one holds it)

    def __enter__(self) -> None:
        if self._path is None or fcntl is None:
            return
        if self._fd is None:  # opened on first use: a missing directory fails like SQLite
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        self.waiting = True
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        finally:
            self.waiting = False

    def __exit__(self, *_exc: object) -> None:
        if self._fd is not None and fcntl is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


_LOCKED_SWITCH_S = 0.0001


class _ShortGilTurns:
    """While a writer holds the database lock, the interpreter's threads take turns with
    the GIL every 0.1 ms instead of every 5.

    sqlite3 lets go of the GIL around every statement it runs; winning it back waited for
    the event loop's thread to finish its turn, up to the switch interval, all that time
    with the lock held and every other writer waiting. The interval is process-wide; the
    last writer to leave restores it.
    """

    _guard = threading.Lock()
    _inside = 0
    _saved = 0.005

    def __enter__(self) -> None:
        with self._guard:
            if _ShortGilTurns._inside == 0:
                _ShortGilTurns._saved = sys.getswitchinterval()
                sys.setswitchinterval(_LOCKED_SWITCH_S)
            _ShortGilTurns._inside += 1

    def __exit__(self, *_exc: object) -> None:
        with self._guard:
            _ShortGilTurns._inside -= 1
            if _ShortGilTurns._inside == 0:
                sys.setswitchinterval(_ShortGilTurns._saved)


class SqliteTransactor:
    """Runs write transactions in one thread, on a connection of its own.

    Work handed in while a transaction is under way waits and shares the next one: each
    piece in a savepoint of its own (a failure undoes that piece only and is raised to its
    caller), one BEGIN, one COMMIT and one fsync for them all. With one writer the
    database's speed, not the number of callers, sets the number of transactions.

    The thread keeps its connection from one transaction to the next: taking it from the
    pool and handing it back (with the pool's rollback on return) cost the writer as
    much CPU per transaction as the statements of a one-message intake. After a failure
    that escapes a transaction the connection goes back to the pool and the next
    transaction takes it afresh.

    `queued` and `waiting_for_the_lock_file` say where the work stands, for tests to wait
    on instead of on time.
    """

    def __init__(self, url: str, synchronous: str) -> None:
        sync_url = url.replace("sqlite+aiosqlite://", "sqlite://", 1)
        self._engine = sa.create_engine(
            sync_url,
            pool_size=1,
            max_overflow=0,
            connect_args={"check_same_thread": False},
            hide_parameters=HIDE_PARAMETERS,
        )
        _sqlite_setup(self._engine, synchronous=synchronous, writer=True)
        self._queue = _WriterQueue(sa.engine.make_url(sync_url).database)
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._guard = threading.Lock()
        self._pending: list[tuple[Callable[[Connection], Any], asyncio.Future[Any]]] = []
        self._draining = False
        self._conn: Connection | None = None  # the writer thread's, from its first use

    async def run(self, work: Callable[[Connection], T]) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        with self._guard:
            self._pending.append((work, future))
            if not self._draining:
                self._draining = True
                self._thread.submit(self._drain)
        return await future

    def queued(self) -> int:
        """How many pieces of work handed in wait for the writer's next transaction."""
        with self._guard:
            return len(self._pending)

    def waiting_for_the_lock_file(self) -> bool:
        """Whether the writer waits its turn on the lock file, another writer holding it."""
        return self._queue.waiting

    def _drain(self) -> None:
        while True:
            with self._guard:
                group, self._pending = self._pending, []
                if not group:
                    self._draining = False
                    return
            _resolve(self._run_group(group))

    def _run_group(
        self, group: list[tuple[Callable[[Connection], Any], asyncio.Future[Any]]]
    ) -> list[tuple[asyncio.Future[Any], bool, Any]]:
        outcomes: list[tuple[asyncio.Future[Any], bool, Any]] = []
        try:
            if self._conn is None:
                self._conn = self._engine.connect()
            conn = self._conn
            with self._queue, _ShortGilTurns(), conn.begin():
                if len(group) == 1:  # alone: its failure rolls the transaction back
                    work, future = group[0]
                    outcomes.append((future, True, work(conn)))
                    return outcomes
                for work, future in group:
                    savepoint = conn.begin_nested()
                    try:
                        value = work(conn)
                    except Exception as err:
                        savepoint.rollback()
                        outcomes.append((future, False, err))
                    else:
                        savepoint.commit()
                        outcomes.append((future, True, value))
        except BaseException as err:  # nothing of the group was stored (BEGIN or COMMIT
            # failed, or something no piece could catch): its callers hear so, and the
            # drain goes on rather than die with `_draining` set and every later caller waiting
            self._release()
            return [(future, False, err) for _, future in group]
        return outcomes

    def _release(self) -> None:
        """Hand the connection back to the pool (which rolls back what is left open)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self._release()
        self._engine.dispose()
        self._queue.close()


def _resolve(outcomes: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    """Hand results back to the loops that wait for them, one wake-up per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
    for outcome in outcomes:
        by_loop.setdefault(outcome[0].get_loop(), []).append(outcome)
    for loop, mine in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits any more
            loop.call_soon_threadsafe(_set_outcomes, mine)


def _set_outcomes(outcomes: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in outcomes:
        if future.cancelled():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def synchronous_invalid(mode: str) -> bool:
    return mode.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA")
