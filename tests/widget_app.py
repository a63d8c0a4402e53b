"""The real Cascade app on a loopback port, for the widget's browser tests.

`build_app` as `cascade api` makes it, on a migrated SQLite file, under uvicorn with
WebSockets, with an account, its organization and an operator. The one difference:
main's `build_app` lets only API keys onto the hub so far (`api_key_authenticate`); the
chat code will let ChatHub's JWTs on. Until then the hub here authenticates with the
real `ChatAuth` (signature, expiry, the operator as it is now): `OperatorOnHub` is what
an operator token is on the hub — its own account, its organization's events, its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from cascade.api.auth import Authenticator
from cascade.api.chathub.hub import Audience, HubPrincipal
from cascade.api.chathub.hub.apikey import api_key_authenticate
from cascade.api.chathub.tokens import ChatPrincipal
from cascade.bootstrap import build_app, build_chat_auth, build_hub, build_store
from cascade.clock import SystemClock
from cascade.config import Settings
from cascade.domain.chats import OperatorSync
from cascade.security import hash_secret, new_api_key
from cascade.store.migrate import upgrade
from cascade.store.sql import SqlStore
from tests.threaded_server import ThreadedServer

JWT_SECRET = "a-widget-test-signing-key-of-32-bytes-or-more"


@dataclass(frozen=True)
class OperatorOnHub:
    """A ChatHub principal as the hub's `HubPrincipal`."""

    principal: ChatPrincipal

    @property
    def id(self) -> str:
        return f"{self.principal.kind}:{self.principal.account.id}:{self.principal.operator_id}"

    @property
    def account_id(self) -> str:
        return self.principal.account.id

    @property
    def expires_at_ms(self) -> int | None:
        return self.principal.expires_at_ms

    def sees(self, audience: Audience) -> bool:
        if audience.account_id != self.account_id:
            return False
        if audience.operator_id is not None:
            return self.principal.is_company or audience.operator_id == str(
                self.principal.operator_id
            )
        if audience.organization_id is None:
            return self.principal.is_company
        return self.principal.sees(int(audience.organization_id))


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
        keys = Authenticator(store, clock, 0)
        chat_auth = build_chat_auth(self.settings, store, clock, keys)
        by_key = api_key_authenticate(keys)

        async def authenticate(token: str) -> HubPrincipal | None:
            principal = await chat_auth.chat_principal(token)
            if principal is not None:
                return OperatorOnHub(principal)
            return await by_key(token)

        self.store = store  # the server's own: for tests to seed chats on its loop
        self.hub = build_hub(self.settings, clock, authenticate)
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

    def publish(self, event: str, *args: Any, operator: bool = False) -> None:
        """`event(*args)` to the seeded organization (or, with `operator`, its operator)."""
        s = self.seeded
        audience = (
            Audience(s.account_id, operator_id=str(s.operator_id))
            if operator
            else Audience(s.account_id, organization_id=str(s.organization_id))
        )
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
