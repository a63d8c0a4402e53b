"""Bulk and ByIds render one SQL text per database; rows and ids go to the driver as-is."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from cascade.store.bulk import Bulk, ByIds


def test_by_ids_numbers_placeholders_for_postgresql_with_the_ids_last() -> None:
    query = ByIds("SELECT a FROM t WHERE b = ? AND c = ? AND d {ids} ORDER BY a")
    assert query.postgresql == (
        "SELECT a FROM t WHERE b = $1 AND c = $2 AND d = ANY($3::varchar[]) ORDER BY a"
    )
    assert query.sqlite == (
        "SELECT a FROM t WHERE b = ? AND c = ? AND d IN (SELECT value FROM json_each(?)) ORDER BY a"
    )


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT a FROM t WHERE b = ?",  # no ids
        "SELECT a FROM t WHERE b {ids} OR c {ids}",  # two
        "SELECT a FROM t WHERE b {ids} AND c = ?",  # a parameter after the ids
    ],
)
def test_by_ids_refuses_what_it_cannot_place(sql: str) -> None:
    with pytest.raises(ValueError, match=r"one \{ids\}"):
        ByIds(sql)


def test_bulk_and_by_ids_on_sqlite() -> None:
    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id TEXT PRIMARY KEY, kind TEXT, n INTEGER)")
        Bulk("INSERT INTO t (id, kind, n) VALUES (?, ?, ?)").run(
            conn, [("a", "x", 1), ("b", "x", 2), ("c", "y", 3), ("é'\"", "x", 4)]
        )
        Bulk("INSERT INTO t (id, kind, n) VALUES (?, ?, ?)").run(conn, [])  # nothing to do
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 4
        query = ByIds("SELECT id, n FROM t WHERE kind = ? AND id {ids} ORDER BY n")
        assert query.rows(conn, ["a", "c", "é'\"", "zz"], "x") == [("a", 1), ("é'\"", 4)]
        assert query.rows(conn, [], "x") == []
        # SQLite has no FOR UPDATE: its single writer already holds every row
        assert query.rows(conn, ["b"], "x", lock=True) == [("b", 2)]
