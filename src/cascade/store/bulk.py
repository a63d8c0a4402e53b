"""Many-row statements that hand their rows straight to the database driver.

SQLAlchemy processes every row of an executemany through its compiled statement's
parameter machinery, which costs more than the database's own work for the short rows the
engine writes by the thousand (attempts, message and task updates). A `Bulk` statement is
written once in SQL with `?` placeholders, rendered for the driver's parameter style, and
its rows go to the driver as tuples (on SQLite, as one JSON array: see `Bulk`).

A `ByIds` query reads the rows of a set of ids the same way: the ids go to the driver as
one parameter (a JSON array unpacked by `json_each` on SQLite, an array on PostgreSQL), so
neither SQLAlchemy nor the database compiles a statement per size of the set. On SQLite
the rows come back the same way, as one JSON array, unless the query's order matters.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
from sqlalchemy.engine import Connection

_PLACEHOLDER = re.compile(r"\?")
# UPDATE ... FROM came with SQLite 3.33; an older library keeps the executemany
_SQLITE_HAS_UPDATE_FROM = sqlite3.sqlite_version_info >= (3, 33)


class Bulk:
    """One statement over many rows.

    On SQLite the rows go as one JSON array, unpacked by `json_each` inside a single
    statement, instead of an executemany. Python's sqlite3 lets go of the GIL around every
    step of a statement, and an executemany steps once per row: a writer thread holding
    the database lock had to win the GIL back from the event loop after every row. Over
    JSON the whole batch is one step. An UPDATE or DELETE that names the same key twice is
    run in rounds, first occurrences first, so each key sees its rows in order, as with an
    executemany. A statement whose rows carry bytes (a BLOB: JSON would turn it into
    base64 text) names its BLOB columns in `blobs` (their places among the `?`, from 0),
    INSERTs only: their bytes go beside the JSON as one BLOB parameter, each row naming
    where its own bytes are in it, so such a batch is still one step. One made with
    `json_rows=False` keeps the executemany.
    """

    def __init__(self, sql: str, *, json_rows: bool = True, blobs: tuple[int, ...] = ()) -> None:
        self.sqlite = sql
        self.postgresql = _numbered(sql)
        self.sqlite_json: str | None = None
        self._key_width = 0
        self._blobs = blobs
        if json_rows and _SQLITE_HAS_UPDATE_FROM:
            self.sqlite_json, self._key_width = _over_json(sql, blobs)

    def run(self, conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(self.postgresql, list(rows))
            return
        if len(rows) == 1 or self.sqlite_json is None:
            conn.exec_driver_sql(self.sqlite, list(rows))
            return
        encode = msgspec.json.encode
        if self._blobs:  # an INSERT: one round
            json_rows, blob = _blobs_apart(rows, self._blobs)
            conn.exec_driver_sql(self.sqlite_json, (encode(json_rows).decode(), blob))
            return
        for batch in _rounds(rows, self._key_width):
            conn.exec_driver_sql(self.sqlite_json, (encode(batch).decode(),))


def _blobs_apart(
    rows: Sequence[tuple[Any, ...]], blobs: tuple[int, ...]
) -> tuple[list[list[Any]], bytes]:
    """The rows with each BLOB value replaced by [where its bytes start (from 1), how many],
    and all those bytes end to end."""
    chunks: list[bytes] = []
    at = 1
    out: list[list[Any]] = []
    for row in rows:
        values = list(row)
        for i in blobs:
            value = values[i]
            if value is not None:
                values[i] = (at, len(value))
                chunks.append(value)
                at += len(value)
        out.append(values)
    return out, b"".join(chunks)


_ROWS = "(SELECT value AS row_ FROM json_each(?)) AS r_"
_INSERT = re.compile(r"(INSERT INTO \w+ \([^)]*\)) VALUES \((.*)\)", re.S)
_UPDATE = re.compile(r"UPDATE (\w+) SET (.*) WHERE (.*)", re.S)
_DELETE = re.compile(r"DELETE FROM (\w+) WHERE (.*)", re.S)


def _over_json(sql: str, blobs: tuple[int, ...] = ()) -> tuple[str, int]:
    """The SQLite statement taking its rows as a JSON array, and how many of a row's
    values (its last) name the row it changes; `?` becomes that row's value at its place.
    The rows come through a subquery whose one column is `row_`, so the statement's own
    column names cannot collide with `json_each`'s (`id`, `key`, `value`, ...).
    `json_extract` rather than `->>`, which needs SQLite 3.38."""
    keys = sql.rpartition(" WHERE ")[2].count("?")
    value = "json_extract(r_.row_, '$[{0}]')"
    blob = "substr(?2, json_extract(r_.row_, '$[{0}][0]'), json_extract(r_.row_, '$[{0}][1]'))"
    numbers = iter(range(sql.count("?")))

    def place(_: re.Match[str]) -> str:
        n = next(numbers)
        return (blob if n in blobs else value).format(n)

    numbered = _PLACEHOLDER.sub(place, sql)
    # the SQL is the module's own constant text, never input (hence the noqa)
    if found := _INSERT.fullmatch(numbered):
        rows = _ROWS.replace("json_each(?)", "json_each(?1)") if blobs else _ROWS
        return f"{found[1]} SELECT {found[2]} FROM {rows}", 0  # noqa: S608
    if blobs:
        raise ValueError("blobs: for inserts only")
    if found := _UPDATE.fullmatch(numbered):
        table, changes, where = found.groups()
        return f"UPDATE {table} SET {changes} FROM {_ROWS} WHERE {where}", keys  # noqa: S608
    if found := _DELETE.fullmatch(numbered):
        table, where = found.groups()
        rows = f"SELECT {table}.rowid FROM {_ROWS} JOIN {table} ON {where}"  # noqa: S608
        return f"DELETE FROM {table} WHERE rowid IN ({rows})", keys  # noqa: S608
    raise ValueError(f"not an INSERT ... VALUES, UPDATE ... WHERE or DELETE ... WHERE: {sql}")


def _rounds(rows: Sequence[tuple[Any, ...]], key_width: int) -> Sequence[Sequence[tuple[Any, ...]]]:
    """The rows in rounds where no key repeats: a key's n-th row goes in round n."""
    if key_width == 0:
        return [rows]
    keys = [row[-key_width:] for row in rows]
    if len(set(keys)) == len(keys):
        return [rows]
    seen: dict[tuple[Any, ...], int] = {}
    rounds: list[list[tuple[Any, ...]]] = []
    for key, row in zip(keys, rows, strict=True):
        n = seen.get(key, 0)
        seen[key] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(row)
    return rounds


class ByIds:
    """A statement whose `{ids}` stands for "is one of these ids"; `?` marks other
    parameters, given before the ids in the order they appear."""

    def __init__(self, sql: str) -> None:
        if sql.count("{ids}") != 1 or "?" in sql.partition("{ids}")[2]:
            raise ValueError("one {ids}, after every other parameter")
        self.sqlite = sql.replace("{ids}", "IN (SELECT value FROM json_each(?))")
        self.postgresql = _numbered(sql.replace("{ids}", "= ANY(?::varchar[])"))
        self.sqlite_json = _as_json_array(self.sqlite)

    def rows(
        self, conn: Connection, ids: Iterable[str], *params: Any, lock: bool = False
    ) -> list[tuple[Any, ...]]:
        """The rows; `lock` takes them FOR UPDATE on PostgreSQL (SQLite's single writer
        already holds them)."""
        if conn.dialect.name == "postgresql":
            sql = self.postgresql + " FOR UPDATE" if lock else self.postgresql
            result = conn.exec_driver_sql(sql, (*params, list(ids)))
            return [tuple(row) for row in result]
        args = (*params, msgspec.json.encode(list(ids)).decode())
        if self.sqlite_json is None:
            return [tuple(row) for row in conn.exec_driver_sql(self.sqlite, args)]
        found = conn.exec_driver_sql(self.sqlite_json, args).scalar()
        return [tuple(row) for row in msgspec.json.decode(found or "[]")]


_SELECT = re.compile(r"SELECT (.*?) FROM (.*)", re.S)


def _as_json_array(sql: str) -> str | None:
    """The SQLite query returning its rows as one JSON array of arrays, in one statement
    step rather than one per row (each a GIL hand-back). None for a query whose order
    matters: an aggregate over an ordered subquery need not keep that order."""
    found = _SELECT.fullmatch(sql)
    if found is None or "ORDER BY" in sql:
        return None
    columns, rest = found.groups()
    if "(" in columns:
        raise ValueError(f"plain columns only: {columns}")
    return f"SELECT json_group_array(json_array({columns})) FROM {rest}"  # noqa: S608


def _numbered(sql: str, form: str = "${}", start: int = 1) -> str:
    """`?` placeholders numbered in `form`: PostgreSQL's `$1`, `$2`, ... by default."""
    numbers = iter(range(start, start + sql.count("?")))
    return _PLACEHOLDER.sub(lambda _: form.format(next(numbers)), sql)
