"""Bulk and ByIds render one SQL text per database; rows and ids go to the driver as-is."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from cascade.store import bulk
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


def sqlite_table() -> sa.Engine:
    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        # `id` and `key` are also columns of json_each: the statements must not mix them up
        conn.exec_driver_sql(
            "CREATE TABLE t (id TEXT PRIMARY KEY, key TEXT, n INTEGER, flag BOOLEAN, blob BLOB)"
        )
    return engine


def table_rows(conn: sa.Connection) -> list[tuple[object, ...]]:
    return [tuple(r) for r in conn.exec_driver_sql("SELECT id, key, n, flag FROM t ORDER BY id")]


def test_bulk_on_sqlite_sends_many_rows_as_one_json_statement() -> None:
    insert = Bulk("INSERT INTO t (id, key, n, flag) VALUES (?, ?, ?, ?)")
    assert insert.sqlite_json == (
        "INSERT INTO t (id, key, n, flag) SELECT json_extract(r_.row_, '$[0]'), "
        "json_extract(r_.row_, '$[1]'), json_extract(r_.row_, '$[2]'), "
        "json_extract(r_.row_, '$[3]') FROM (SELECT value AS row_ FROM json_each(?)) AS r_"
    )
    statements: list[str] = []
    engine = sqlite_table()
    sa.event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with engine.begin() as conn:
        insert.run(conn, [("a", "k1", 1, True), ("b", None, 2, False), ("é'\"[", "k3", None, None)])
        assert table_rows(conn) == [
            ("a", "k1", 1, 1),
            ("b", None, 2, 0),
            ("é'\"[", "k3", None, None),
        ]
    assert statements.count(insert.sqlite_json) == 1  # one statement for three rows


def test_bulk_updates_on_sqlite_apply_a_repeated_key_in_order() -> None:
    engine = sqlite_table()
    with engine.begin() as conn:
        Bulk("INSERT INTO t (id, key, n) VALUES (?, ?, ?)").run(
            conn, [("a", "old", 0), ("b", "old", 0), ("c", "old", 0)]
        )
        # `a` twice: the second row keeps the first's key (COALESCE) and sets n after it
        Bulk("UPDATE t SET key = COALESCE(?, key), n = ? WHERE id = ?").run(
            conn, [("new", 1, "a"), ("x", 5, "b"), (None, 2, "a"), (None, 9, "zz")]
        )
        assert table_rows(conn) == [
            ("a", "new", 2, None),
            ("b", "x", 5, None),
            ("c", "old", 0, None),
        ]
        Bulk("UPDATE t SET n = n + ? WHERE key = ? AND id = ?").run(
            conn, [(10, "new", "a"), (10, "new", "a"), (10, "old", "b")]
        )
        assert [r[2] for r in table_rows(conn)] == [22, 5, 0]


def test_bulk_deletes_on_sqlite_only_the_rows_named() -> None:
    engine = sqlite_table()
    with engine.begin() as conn:
        Bulk("INSERT INTO t (id, key, n) VALUES (?, ?, ?)").run(
            conn, [("a", "k", 1), ("b", "k", 2), ("c", "j", 3)]
        )
        Bulk("DELETE FROM t WHERE key = ? AND id = ?").run(
            conn, [("k", "a"), ("k", "a"), ("j", "b"), ("j", "c")]
        )
        assert [r[0] for r in table_rows(conn)] == ["b"]


def test_bulk_rows_with_bytes_go_to_sqlite_one_by_one() -> None:
    insert = Bulk("INSERT INTO t (id, blob) VALUES (?, ?)", json_rows=False)
    assert insert.sqlite_json is None
    engine = sqlite_table()
    with engine.begin() as conn:
        # a first row without bytes must not send the others over JSON (as base64 text)
        insert.run(conn, [("0", None), ("a", b"\x00\xff"), ("b", b"")])
        assert list(conn.exec_driver_sql("SELECT blob FROM t ORDER BY id")) == [
            (None,),
            (b"\x00\xff",),
            (b"",),
        ]


def test_bulk_before_sqlite_3_33_keeps_the_executemany(monkeypatch: pytest.MonkeyPatch) -> None:
    # UPDATE ... FROM came with SQLite 3.33: an older library gets one step per row
    monkeypatch.setattr(bulk, "_SQLITE_HAS_UPDATE_FROM", False)
    update = Bulk("UPDATE t SET n = ? WHERE id = ?")
    assert update.sqlite_json is None
    engine = sqlite_table()
    with engine.begin() as conn:
        Bulk("INSERT INTO t (id, key, n, flag) VALUES (?, ?, ?, ?)").run(
            conn, [("a", None, 1, None), ("b", None, 2, None)]
        )
        update.run(conn, [(10, "a"), (20, "b")])
        assert table_rows(conn) == [("a", None, 10, None), ("b", None, 20, None)]


def test_bulk_refuses_a_statement_it_cannot_send_over_json() -> None:
    with pytest.raises(ValueError, match="not an INSERT"):
        Bulk("INSERT INTO t SELECT * FROM u WHERE a = ?")


def test_by_ids_on_sqlite_reads_a_set_as_one_json_array_unless_order_matters() -> None:
    plain = ByIds("SELECT id, key, n, flag FROM t WHERE id {ids}")
    assert plain.sqlite_json == (
        "SELECT json_group_array(json_array(id, key, n, flag)) FROM t "
        "WHERE id IN (SELECT value FROM json_each(?))"
    )
    ordered = ByIds("SELECT id, n FROM t WHERE id {ids} ORDER BY n")
    assert ordered.sqlite_json is None  # an aggregate need not keep a subquery's order
    engine = sqlite_table()
    with engine.begin() as conn:
        Bulk("INSERT INTO t (id, key, n, flag) VALUES (?, ?, ?, ?)").run(
            conn,
            [("a", '{"x": [1]}', 3, True), ("b", None, None, False), ("c", "ü'\"", -1, None)],
        )
        got = sorted(plain.rows(conn, ["a", "b", "c", "zz"]))
        # text that looks like JSON stays text; booleans read back as SQLite stores them
        assert got == [("a", '{"x": [1]}', 3, 1), ("b", None, None, 0), ("c", "ü'\"", -1, None)]
        assert plain.rows(conn, []) == []
        assert ordered.rows(conn, ["a", "b", "c"]) == [("b", None), ("c", -1), ("a", 3)]


def test_by_ids_refuses_a_select_list_it_cannot_read_as_json() -> None:
    with pytest.raises(ValueError, match="plain columns"):
        ByIds("SELECT id, count(*) FROM t WHERE id {ids} GROUP BY id")


def test_bulk_rows_with_named_blob_columns_go_to_sqlite_as_one_statement() -> None:
    insert = Bulk("INSERT INTO t (id, blob, n) VALUES (?, ?, ?)", blobs=(1,))
    assert insert.sqlite_json is not None
    statements: list[str] = []
    engine = sqlite_table()
    sa.event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with engine.begin() as conn:
        rows = [("0", None, 0), ("a", b"\x00\xff", 1), ("b", b"", 2), ("c", b"\x80" * 16, 3)]
        insert.run(conn, rows)
        assert statements == [insert.sqlite_json]
        stored = conn.exec_driver_sql("SELECT id, blob, typeof(blob), n FROM t ORDER BY id")
        assert [tuple(r) for r in stored] == [
            ("0", None, "null", 0),
            ("a", b"\x00\xff", "blob", 1),
            ("b", b"", "blob", 2),
            ("c", b"\x80" * 16, "blob", 3),
        ]


def test_bulk_blob_columns_are_for_inserts_only() -> None:
    with pytest.raises(ValueError, match="inserts only"):
        Bulk("UPDATE t SET blob = ? WHERE id = ?", blobs=(0,))
