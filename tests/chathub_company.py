"""A ChatHub company for tests through the real app: an account with a login, an
organization and an operator (`company`), the app as an HTTP client (`app_client`), and the
helpers the ChatHub REST tests share."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from argon2 import PasswordHasher

from cascade.api.auth import Authenticator
from cascade.api.chathub.hub import Hub, LocalBus
from cascade.bootstrap import build_app, build_chat_auth, chat_authenticate
from cascade.clock import ManualClock
from cascade.domain.chats import Operator, OperatorSync, Organization
from cascade.security import Passwords
from cascade.store.sql import SqlStore
from tests.conftest import TestAccount, make_account
from tests.conftest import test_settings as app_settings

PASSWORD = "s3cret: with a colon"
SECRET = "a-test-signing-key-of-at-least-32-bytes!"
# argon2id with the least work it allows: these tests do not time verifications
CHEAP = Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


class Company:
    """An account with a login, an organization and an operator."""

    def __init__(self, account: TestAccount, login: str, org: Organization, op: Operator) -> None:
        self.account = account
        self.login = login
        self.org = org
        self.operator = op

    @property
    def key(self) -> dict[str, str]:
        return {"X-Authorization-Key": self.account.key}


async def company(store: SqlStore, name: str) -> Company:
    account = await make_account(store, name)
    await store.set_login(account.id, f"{name}-login", CHEAP.hash(PASSWORD))
    org = await store.create_organization(account.id, f"{name} support")
    [op] = await store.synchronize_operators(account.id, [OperatorSync(org.id, "Ann")])
    return Company(account, f"{name}-login", org, op)


def app_client(
    store: SqlStore, clock: ManualClock, db_url: str, **settings: object
) -> httpx.AsyncClient:
    configured = app_settings(db_url, **settings)
    # one process: events in process (no PostgreSQL connection of the hub's bus to leave
    # open without a lifespan: deleting an operator publishes, to close its connections)
    auth = build_chat_auth(configured, store, clock, Authenticator(store, clock, 0))
    hub = Hub(chat_authenticate(auth), LocalBus(), clock)
    app = build_app(configured, clock=clock, store=store, hub=hub)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cascade.test")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def iso(at_ms: int) -> str:
    return datetime.fromtimestamp(at_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def assert_problem(response: httpx.Response, status: int, field: str | None = None) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body.get("field") == field
    detail: str = body["detail"]
    return detail
