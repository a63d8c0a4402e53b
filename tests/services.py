"""Reaching the machine's real services from tests: PostgreSQL and Redis.

PostgreSQL is started when it is down. In CI (CI=true) a test that needs a service that
cannot be reached fails instead of being skipped.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from pathlib import Path

import pytest

PG_ADMIN_URL = os.environ.get("CASCADE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CASCADE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(what: str, why: str) -> None:
    """Skip locally; fail in CI, where a skipped service test is a failure."""
    message = f"{what} unavailable: {why}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


async def _pg_connect(url: str) -> object:
    import asyncpg

    return await asyncpg.connect(url.replace("postgresql://", "postgres://", 1), timeout=5)


def _start_postgres() -> None:
    versions = sorted(p.name for p in Path("/etc/postgresql").glob("*"))
    if not versions:
        return
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"],
        check=False,
        capture_output=True,
        timeout=60,
    )


def ensure_postgres() -> str | None:
    """Return an error text, or None when PostgreSQL answers (starting it if needed)."""

    async def probe() -> None:
        conn = await _pg_connect(PG_ADMIN_URL)
        await conn.close()  # type: ignore[attr-defined]

    try:
        asyncio.run(probe())
        return None
    except Exception:
        _start_postgres()
    try:
        asyncio.run(probe())
        return None
    except Exception as err:
        return str(err)


def create_database() -> str:
    """A fresh, empty database for this test session; returns its URL."""
    name = f"cascade_test_{uuid.uuid4().hex[:10]}"

    async def create() -> None:
        conn = await _pg_connect(PG_ADMIN_URL)
        await conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[attr-defined]
        await conn.close()  # type: ignore[attr-defined]

    asyncio.run(create())
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]

    async def drop() -> None:
        conn = await _pg_connect(PG_ADMIN_URL)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[attr-defined]
        await conn.close()  # type: ignore[attr-defined]

    asyncio.run(drop())


def redis_error() -> str | None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
        return None
    except Exception as err:
        return str(err)
