"""Executemany statements that hand their rows straight to the database driver.

SQLAlchemy processes every row of an executemany through its compiled statement's
parameter machinery, which costs more than the database's own work for the short rows the
engine writes by the thousand (attempts, message and task updates). A `Bulk` statement is
written once in SQL with `?` placeholders, rendered for the driver's parameter style, and
its rows go to the driver as tuples.

A `ByIds` query reads the rows of a set of ids the same way: the ids go to the driver as
one parameter (a JSON array unpacked by `json_each` on SQLite, an array on PostgreSQL), so
neither SQLAlchemy nor the database compiles a statement per size of the set.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
from sqlalchemy.engine import Connection

_PLACEHOLDER = re.compile(r"\?")


class Bulk:
    def __init__(self, sql: str) -> None:
        self.sqlite = sql
        self.postgresql = _numbered(sql)

    def run(self, conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        dialect = conn.dialect.name
        conn.exec_driver_sql(
            self.postgresql if dialect == "postgresql" else self.sqlite, list(rows)
        )


class ByIds:
    """A statement whose `{ids}` stands for "is one of these ids"; `?` marks other
    parameters, given before the ids in the order they appear."""

    def __init__(self, sql: str) -> None:
        if sql.count("{ids}") != 1 or "?" in sql.partition("{ids}")[2]:
            raise ValueError("one {ids}, after every other parameter")
        self.sqlite = sql.replace("{ids}", "IN (SELECT value FROM json_each(?))")
        self.postgresql = _numbered(sql.replace("{ids}", "= ANY(?::varchar[])"))

    def rows(
        self, conn: Connection, ids: Iterable[str], *params: Any, lock: bool = False
    ) -> list[tuple[Any, ...]]:
        """The rows; `lock` takes them FOR UPDATE on PostgreSQL (SQLite's single writer
        already holds them)."""
        if conn.dialect.name == "postgresql":
            sql = self.postgresql + " FOR UPDATE" if lock else self.postgresql
            result = conn.exec_driver_sql(sql, (*params, list(ids)))
        else:
            result = conn.exec_driver_sql(
                self.sqlite, (*params, msgspec.json.encode(list(ids)).decode())
            )
        return [tuple(row) for row in result]


def _numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1`, `$2`, ..."""
    numbers = iter(range(1, sql.count("?") + 1))
    return _PLACEHOLDER.sub(lambda _: f"${next(numbers)}", sql)
