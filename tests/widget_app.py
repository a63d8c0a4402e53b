"""The real Cascade app on a loopback port, for the widget's browser tests.

`build_app` as `cascade api` makes it, on a migrated SQLite file, under uvicorn with
WebSockets, with an account, its organization and an operator. The hub is the one
`build_app` would make (`build_chat_hub`: ChatHub's JWTs, then API keys), built here only
so that a test can publish on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from cascade.api.chathub.hub import Audience
from cascade.bootstrap import build_app, build_store
from cascade.clock import SystemClock
from cascade.config import Settings
from cascade.domain.chats import OperatorSync
from cascade.security import hash_secret, new_api_key
from cascade.store.migrate import upgrade
from cascade.store.sql import SqlStore
from tests.hub_app import build_chat_hub
from tests.threaded_server import ThreadedServer

JWT_SECRET = "a-widget-test-signing-key-of-32-bytes-or-more"


@dataclass
class Seeded:
    account_id: str
    api_key: str
    organization_id: int
    operator_id: int


async def _seed(url: str) -> Seeded:
    store = SqlStore(url, SystemClock(), sqlite_synchronous="NORMAL", pool_size=2)
    try:
        account = await store.create_account("widget co", "WidgetCo")
        key = new_api_key()
        await store.add_api_key(account.id, hash_secret(key))
        org = await store.create_organization(account.id, "Support")
        [operator] = await store.synchronize_operators(account.id, [OperatorSync(org.id, "Ann")])
        return Seeded(account.id, key, org.id, operator.id)
    finally:
        await store.close()


class WidgetCascade:
    """Cascade serving the widget, ChatHub's REST and the hub; `publish` sends a hub event
    the way the chat code does."""

    def __init__(self, tmp: Path, **settings: Any) -> None:
        url = f"sqlite:///{tmp / 'cascade.db'}"
        upgrade(url)
        self.seeded = asyncio.run(_seed(url))
        self.settings = Settings(
            database_url=url,
            sqlite_synchronous="NORMAL",
            auth_cache_seconds=0.0,
            jwt_secret=JWT_SECRET,
            **settings,
        )
        clock = SystemClock()
        store = build_store(self.settings, clock)
        self.store = store  # the server's own: for tests to seed chats on its loop
        self.hub = build_chat_hub(self.settings, store, clock)
        self.app = build_app(self.settings, clock=clock, store=store, hub=self.hub)
        self.loop: asyncio.AbstractEventLoop | None = None

        async def started() -> None:
            self.loop = asyncio.get_running_loop()

        self.app.on_startup.append(started)
        self.server = ThreadedServer(self.app, name="widget-cascade", ws="websockets-sansio")
        self.url = ""

    def __enter__(self) -> WidgetCascade:
        self.url = self.server.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.stop()

    @property
    def script_src(self) -> str:
        return f"{self.url}/widget/operator-chat-panel/widget-script.js"

    def operator_token(self) -> str:
        response = httpx.post(
            f"{self.url}/api/operator/get-token",
            headers={"X-Authorization-Key": self.seeded.api_key},
            json={"id": self.seeded.operator_id},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["token"]
        return token

    def publish(self, event: str, *args: Any) -> None:
        """`event(*args)` to the seeded organization, as the chat code publishes."""
        s = self.seeded
        audience = Audience(s.account_id, organization_id=str(s.organization_id))
        self.on_server(self.hub.publish(event, list(args), audience))

    def connections(self) -> int:
        """Hub connections open now (asked on the server's loop, where they live)."""

        async def count() -> int:
            return self.hub.connections

        return int(self.on_server(count()))

    def on_server(self, work: Coroutine[Any, Any, Any]) -> Any:
        assert self.loop is not None, "the server has not started"
        done: Future[Any] = asyncio.run_coroutine_threadsafe(work, self.loop)
        return done.result(timeout=10)
