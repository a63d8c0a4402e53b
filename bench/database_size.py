"""What the database holds on disk, for the figures' "bytes per message" rows (issue 14,
point 5: at most 1 KB per message, and what a delivered message costs with its history).

SQLite: the file's pages in use once the WAL is checkpointed into it (free pages left by
deleted rows are not counted; `VACUUM` would return them). PostgreSQL: every table of
the public schema with its indexes and TOAST (`pg_total_relation_size`), after a
`VACUUM` so that dead row versions are not counted as the data's cost.
"""

from __future__ import annotations

import contextlib
import sqlite3

from common import query

_PG_TABLES = (
    "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 2 DESC"
)


def database_bytes(url: str) -> dict[str, int]:
    """Bytes on disk per table (SQLite: in all, under "all tables")."""
    if url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            page = db.execute("PRAGMA page_size").fetchone()[0]
            pages = db.execute("PRAGMA page_count").fetchone()[0]
            free = db.execute("PRAGMA freelist_count").fetchone()[0]
            sizes = {"all tables": (pages - free) * page}
            with contextlib.suppress(sqlite3.OperationalError):  # built without dbstat
                rows = db.execute(
                    "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
                ).fetchall()
                sizes.update({str(name): int(size) for name, size in rows})
            return sizes
    query(url, "VACUUM")
    return {str(name): int(size) for name, size in query(url, _PG_TABLES)}


def size_rows(url: str, messages: int, what: str) -> list[tuple[str, str]]:
    """Table rows: the database's size and its bytes per message, the largest parts."""
    sizes = database_bytes(url)
    total = sizes.get("all tables", sum(sizes.values()))
    parts = [(name, size) for name, size in sizes.items() if name != "all tables"][:4]
    return [
        (
            f"database on disk / per message ({what})",
            f"{total / 2**20:,.1f} MiB / {total / max(1, messages):,.0f} bytes",
        ),
        ("largest parts", ", ".join(f"{name} {size / 2**20:,.1f} MiB" for name, size in parts)),
    ]
