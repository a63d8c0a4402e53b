"""The store over SQLAlchemy Core, SQLite (default, one file, WAL) and PostgreSQL: the base
every part of `SqlStore` shares (engines, transactions, the store's own errors).

SQLite allows one writer at a time, so writes go through their own engine holding a
single connection whose transactions start with BEGIN IMMEDIATE: writers queue in the
pool instead of failing on a lock upgrade, and other processes wait on busy_timeout.
Reads use a separate pool and, thanks to WAL, never block on the writer.

The hot transactions (intake, claims, plans, send intents and results, delivery reports)
are plain functions over a synchronous `Connection`, run whole by `_transact`: on SQLite
in one thread that owns a connection of its own (`SqliteTransactor`, in
`cascade.store.sqlite_runtime` with the rest of SQLite's writer runtime); on PostgreSQL
through `run_sync` on the async connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from cascade.clock import Clock
from cascade.store.base import WAKE_CHANNEL, Conflict, StoreError
from cascade.store.sqlite_runtime import (
    HIDE_PARAMETERS,
    SqliteTransactor,
    sqlite_engine,
    synchronous_invalid,
)


def async_url(url: str) -> str:
    """Map a plain database URL to the async driver Cascade uses for it."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {url!r}")
    base = scheme.split("+", 1)[0]
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    if base in ("postgresql", "postgres"):
        return f"postgresql+asyncpg://{rest}"
    raise ValueError(f"unsupported database: {scheme} (use sqlite or postgresql)")


T = TypeVar("T")


@contextmanager
def _store_errors() -> Iterator[None]:
    """The database's errors as the store's own."""
    try:
        yield
    except sa.exc.IntegrityError as err:
        raise Conflict(str(err)) from err
    except sa.exc.SQLAlchemyError as err:
        raise StoreError(str(err)) from err
    except OSError as err:
        raise StoreError(str(err)) from err


class Database:
    """The engines and the clock; reads, writes and whole transactions over them."""

    def __init__(
        self,
        url: str,
        clock: Clock,
        *,
        sqlite_synchronous: str = "FULL",
        pool_size: int = 10,
    ) -> None:
        self.url = async_url(url)
        self._clock = clock
        self.dialect = "sqlite" if self.url.startswith("sqlite") else "postgresql"
        if synchronous_invalid(sqlite_synchronous):
            raise ValueError(f"invalid SQLite synchronous mode: {sqlite_synchronous}")
        if self.dialect == "sqlite":
            self._reader = sqlite_engine(
                self.url, synchronous=sqlite_synchronous, writer=False, pool_size=pool_size
            )
            self._writer = sqlite_engine(
                self.url, synchronous=sqlite_synchronous, writer=True, pool_size=1
            )
            self._transactor: SqliteTransactor | None = SqliteTransactor(
                self.url, sqlite_synchronous
            )
        else:
            self._reader = self._writer = create_async_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_pre_ping=False,
                hide_parameters=HIDE_PARAMETERS,
            )
            self._transactor = None

    # --- plumbing ---------------------------------------------------------------------

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        with _store_errors():
            async with self._writer.begin() as conn:
                yield conn

    async def _transact(self, work: Callable[[Connection], T]) -> T:
        """Run `work` as one write transaction (see the module's docstring)."""
        if self._transactor is None:
            async with self._write() as conn:
                return await conn.run_sync(work)
        with _store_errors():
            return await self._transactor.run(work)

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        with _store_errors():
            async with self._reader.connect() as conn:
                yield conn

    async def close(self) -> None:
        if self._transactor is not None:
            await asyncio.to_thread(self._transactor.close)
        await self._writer.dispose()
        if self._reader is not self._writer:
            await self._reader.dispose()

    async def ping(self) -> None:
        async with self._read() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def schema_revision(self) -> str | None:
        async with self._read() as conn:
            try:
                row = await conn.execute(sa.text("SELECT version_num FROM alembic_version"))
                value = row.scalar()
            except sa.exc.DBAPIError:
                return None
        return str(value) if value is not None else None

    def _notify(self, conn: Connection) -> None:
        if self.dialect == "postgresql":
            conn.execute(sa.text(f"NOTIFY {WAKE_CHANNEL}"))
