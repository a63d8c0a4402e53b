"""The migrations build the schema the code declares, and step down and up keeping rows."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from cascade.store.migrate import alembic_config, upgrade
from cascade.store.schema import metadata
from cascade.store.sql import async_url
from tests.conftest import BACKENDS


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no tables yet, of each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    request.node.add_marker(pytest.mark.postgres)
    url: str = request.getfixturevalue("pg_database")
    return url


def _inspect(url: str, look: Any) -> Any:
    async def run() -> Any:
        engine = create_async_engine(async_url(url))
        try:
            async with engine.begin() as conn:
                return await conn.run_sync(look)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _differences(conn: sa.Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(conn), metadata))


def _primary_key(conn: sa.Connection) -> list[str]:
    return list(sa.inspect(conn).get_pk_constraint("provider_refs")["constrained_columns"])


def _index_columns(conn: sa.Connection) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for table in ("attempts", "orphan_reports"):
        for index in sa.inspect(conn).get_indexes(table):
            found[str(index["name"])] = [str(c) for c in index["column_names"]]
    return found


def _add_refs(conn: sa.Connection) -> None:
    conn.exec_driver_sql(
        "INSERT INTO accounts (id, name, default_from_name, created_at) "
        "VALUES ('acc', 'Shop', 'Shop', 0)"
    )
    conn.execute(
        sa.text(
            "INSERT INTO messages (id, account_id, tracking_id, fingerprint, route, "
            "message_type, from_name, phone, ttl, status, created_at, expires_at, updated_at) "
            "VALUES ('m1', 'acc', 't1', :fingerprint, 'standard', 'transaction', 'Shop', "
            "'+380501234567', 60, 'processing', 0, 60000, 0)"
        ),
        {"fingerprint": b"\x00" * 16},
    )
    conn.exec_driver_sql(
        "INSERT INTO attempts (id, message_id, step, channel, status, started_at) VALUES "
        "('a1', 'm1', 4, 'sms', 'sent', 0), ('a2', 'm1', 3, 'rcs', 'sent', 0)"
    )
    conn.exec_driver_sql(
        "INSERT INTO provider_refs (channel, provider_message_id, attempt_id, delivered) "
        "VALUES ('sms', 'p1', 'a1', false), ('sms', 'p2', 'a1', true), ('rcs', 'p1', 'a2', false)"
    )


def _refs(conn: sa.Connection) -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in conn.exec_driver_sql(
            "SELECT channel, provider_message_id, attempt_id, delivered FROM provider_refs "
            "ORDER BY channel, provider_message_id"
        )
    ]


def test_migrations_build_the_declared_schema(empty_url: str) -> None:
    upgrade(empty_url)
    assert _inspect(empty_url, _differences) == []
    assert _inspect(empty_url, _primary_key) == ["provider_message_id", "channel"]
    indexes = _inspect(empty_url, _index_columns)
    assert indexes["ix_attempts_provider"] == ["provider_message_id", "channel"]
    assert indexes["ix_orphan_reports_provider"] == ["provider_message_id", "channel"]


def test_provider_refs_keep_their_rows_across_rekeying(empty_url: str) -> None:
    config = alembic_config(empty_url)
    command.upgrade(config, "0001")
    _inspect(empty_url, _add_refs)
    expected = [("rcs", "p1", "a2", False), ("sms", "p1", "a1", False), ("sms", "p2", "a1", True)]
    command.upgrade(config, "0002")
    assert _inspect(empty_url, _refs) == expected
    assert _inspect(empty_url, _primary_key) == ["provider_message_id", "channel"]
    command.downgrade(config, "0001")
    assert _inspect(empty_url, _refs) == expected
    assert _inspect(empty_url, _primary_key) == ["channel", "provider_message_id"]
    command.upgrade(config, "head")
    assert _inspect(empty_url, _refs) == expected


def _add_skipped(conn: sa.Connection) -> None:
    _add_refs(conn)
    conn.exec_driver_sql(
        "UPDATE messages SET skipped = "
        """'[[0,"telegram","skipped","NOT_CONFIGURED",null,5],"""
        """[1,"viber_bot","unreachable","NO_CHAT","bot-1",6]]' WHERE id = 'm1'"""
    )


def _attempts(conn: sa.Connection) -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in conn.exec_driver_sql(
            "SELECT message_id, step, channel, status, reason, sender_id, started_at, "
            "finished_at, id FROM attempts ORDER BY step"
        )
    ]


def test_skipped_steps_become_attempt_rows_again_going_down(empty_url: str) -> None:
    config = alembic_config(empty_url)
    upgrade(empty_url)
    _inspect(empty_url, _add_skipped)
    command.downgrade(config, "0002")
    rows = _inspect(empty_url, _attempts)
    assert [r[:-1] for r in rows] == [
        ("m1", 0, "telegram", "skipped", "NOT_CONFIGURED", None, 5, 5),
        ("m1", 1, "viber_bot", "unreachable", "NO_CHAT", "bot-1", 6, 6),
        ("m1", 3, "rcs", "sent", None, None, 0, None),
        ("m1", 4, "sms", "sent", None, None, 0, None),
    ]
    assert [str(uuid.UUID(r[-1])) for r in rows[:2]] == [r[-1] for r in rows[:2]]
    command.upgrade(config, "head")
    assert _inspect(empty_url, _differences) == []


def _add_login(conn: sa.Connection) -> None:
    conn.exec_driver_sql(
        "INSERT INTO accounts (id, name, default_from_name, created_at, suspended_at) "
        "VALUES ('acc', 'Shop', 'Shop', 0, 5)"
    )
    conn.exec_driver_sql(
        "INSERT INTO logins (login, account_id, password_hash, created_at, updated_at) "
        "VALUES ('shop', 'acc', '$argon2id$x', 0, 0)"
    )


def _tables_and_accounts(conn: sa.Connection) -> tuple[bool, list[tuple[Any, ...]]]:
    accounts = [tuple(r) for r in conn.exec_driver_sql("SELECT id, name FROM accounts")]
    return sa.inspect(conn).has_table("logins"), accounts


def test_logins_go_away_going_down_and_the_accounts_stay(empty_url: str) -> None:
    config = alembic_config(empty_url)
    upgrade(empty_url)
    _inspect(empty_url, _add_login)
    command.downgrade(config, "0007")
    assert _inspect(empty_url, _tables_and_accounts) == (False, [("acc", "Shop")])
    command.upgrade(config, "head")
    assert _inspect(empty_url, _tables_and_accounts) == (True, [("acc", "Shop")])
