"""Schema migrations through Alembic, run in-process (`cascade migrate`, `cascade up`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from cascade.store.sql import async_url

_HERE = Path(__file__).parent


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_HERE / "migrations"))
    config.set_main_option("sqlalchemy.url", async_url(database_url))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise RuntimeError("no migrations found")
    return head


def upgrade(database_url: str) -> None:
    """Bring the database to the newest schema. Blocking; safe to call repeatedly."""
    command.upgrade(alembic_config(database_url), "head")


async def upgrade_async(database_url: str) -> None:
    # Alembic's env.py runs its own event loop, so it needs a thread of its own here.
    await asyncio.to_thread(upgrade, database_url)
