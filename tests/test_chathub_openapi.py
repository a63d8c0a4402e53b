"""ChatHub's part of `/openapi.json` says what its routes are, accept and answer (issue 16):
every ChatHub route the app serves is documented with its methods (and nothing else is);
each answer, a 200 and the refusals, has the documented status and shape, the refusals
as RFC 9457 problem documents; and schemathesis runs ChatHub's read routes (every GET)
against a live `cascade api` with every check on, as test_openapi_conformance.py runs
the other surfaces."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
from litestar.routes import HTTPRoute

from cascade.api.chathub.hub import Hub, HubPrincipal, LocalBus
from cascade.api.docs import openapi_document
from cascade.bootstrap import build_app
from cascade.clock import ManualClock, SystemClock
from cascade.domain.chats import OperatorSync
from cascade.store.sql import SqlStore
from tests.chat_seed import SeededChat, chat_with_upload
from tests.chathub_company import PASSWORD, company
from tests.conftest import LiveServer, start_server, stop_server
from tests.conftest import test_settings as app_settings
from tests.ports import free_port
from tests.schemathesis_run import UNLIMITED, server_env, st_config, st_run, unlimited_account

DOCUMENT = openapi_document()
CHATHUB = re.compile(r"^/api/(company|operator|chat)(/|$)")
HOOKS = Path(__file__).with_name("schemathesis_chathub_hooks.py")
SEED = 20261206
MAX_EXAMPLES = 100


def _shape(path: str) -> str:
    """A path with its parameters' names left out: `/api/chat/{}/messages`."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def documented() -> dict[str, set[str]]:
    return {
        _shape(path): {method.upper() for method in operations}
        for path, operations in DOCUMENT["paths"].items()
        if CHATHUB.match(path)
    }


def test_every_chathub_route_is_documented_with_its_methods(tmp_path: Path) -> None:
    app = build_app(app_settings(f"sqlite:///{tmp_path / 'x.db'}"), clock=ManualClock())
    served: dict[str, set[str]] = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute) and CHATHUB.match(route.path):
            methods = {m for m in route.methods if m not in ("HEAD", "OPTIONS")}
            served.setdefault(_shape(route.path), set()).update(methods)
    assert len(served) == 14  # E1-E3 and the media routes
    assert served == documented()
    for path, operations in DOCUMENT["paths"].items():
        if CHATHUB.match(path):
            for operation in operations.values():
                assert operation["summary"].startswith("ChatHub: "), path


async def _nobody(token: str) -> HubPrincipal | None:
    return None


def validator(schema: dict[str, Any]) -> Any:
    return jsonschema_rs.Draft202012Validator({**schema, "components": DOCUMENT["components"]})


def check(response: httpx.Response, path: str, method: str) -> None:
    """The answer's status is documented for the operation, with its content type and
    shape."""
    responses = DOCUMENT["paths"][path][method]["responses"]
    status = str(response.status_code)
    assert status in responses, (path, method, status, response.text)
    content = responses[status].get("content")
    if content is None:
        assert response.content == b""
        return
    media_type = response.headers["content-type"].split(";")[0]
    if "*/*" in content:
        return
    assert media_type in content, (path, status, media_type)
    if media_type.endswith("json"):
        shape = validator(content[media_type]["schema"])
        body = response.json()
        assert shape.is_valid(body), (path, status, list(shape.iter_errors(body)))


async def test_answers_have_the_documented_status_and_shape(
    store: SqlStore, clock: ManualClock, db_url: str
) -> None:
    acme = await company(store, "acme")
    seeded = await chat_with_upload(store, acme.account.id, acme.org.id, "7000000001:openapi")
    chat = seeded.chat_id
    # events in process: no PostgreSQL listener left open without a lifespan
    hub = Hub(_nobody, LocalBus(), clock)
    app = build_app(app_settings(db_url), clock=clock, store=store, hub=hub)
    key = acme.key
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://cascade.test"
    ) as api:
        login = {"login": acme.login, "password": PASSWORD}
        calls: list[tuple[str, str, str, dict[str, Any]]] = [
            ("/api/company/get-token", "post", "/api/company/get-token", {"json": login}),
            ("/api/company/get-token", "post", "/api/company/get-token", {"json": {}}),
            ("/api/company/get-token", "post", "/api/company/get-token",
             {"json": {"login": "nobody", "password": "x"}}),
            ("/api/company/get-token", "post", "/api/company/get-token",
             {"content": b"{}", "headers": {"Content-Type": "text/plain"}}),
            ("/api/operator/get-token", "post", "/api/operator/get-token",
             {"json": {"id": acme.operator.id}, "headers": key}),
            ("/api/operator/get-token", "post", "/api/operator/get-token",
             {"json": {"id": 999}, "headers": key}),
            ("/api/operator/validate-token", "post", "/api/operator/validate-token",
             {"json": {"token": "nope"}}),
            ("/api/company/organization", "get", "/api/company/organization", {"headers": key}),
            ("/api/company/organization", "get", "/api/company/organization", {}),
            ("/api/operator", "get", "/api/operator", {"headers": key}),
            ("/api/operator", "get", "/api/operator?organizationId=x", {"headers": key}),
            ("/api/operator/synchronize", "post", "/api/operator/synchronize",
             {"json": [{"organizationId": acme.org.id, "name": "Bo"}], "headers": key}),
            ("/api/operator/status", "post", "/api/operator/status",
             {"json": {"id": acme.operator.id, "status": 0}, "headers": key}),
            ("/api/operator/status", "post", "/api/operator/status",
             {"json": {"id": acme.operator.id, "status": 7}, "headers": key}),
            ("/api/chat/chats", "get", "/api/chat/chats?search=Hi&status=0", {"headers": key}),
            ("/api/chat/chats", "get", "/api/chat/chats?per_page=101", {"headers": key}),
            # a NUL no database text holds: 400, not the store's fault (PostgreSQL)
            ("/api/chat/chats", "get", "/api/chat/chats?search=a%00b", {"headers": key}),
            ("/api/company/get-token", "post", "/api/company/get-token",
             {"json": {"login": "a\x00b", "password": "x"}}),
            ("/api/chat/{chatId}/message", "post", f"/api/chat/{chat}/message",
             {"json": {"textMessage": "a\x00b"}, "headers": key}),
            ("/api/chat/media/public/{token}/{name}", "get", "/api/chat/media/public/a%00b/x", {}),
            ("/api/chat/status", "put", "/api/chat/status",
             {"json": {"id": chat, "status": 1}, "headers": key}),
            ("/api/chat/{chatId}/messages", "get", f"/api/chat/{chat}/messages", {"headers": key}),
            ("/api/chat/{chatId}/messages", "get", "/api/chat/99/messages", {"headers": key}),
            ("/api/chat/{chatId}/message", "post", f"/api/chat/{chat}/message",
             {"json": {"textMessage": "x", "author": 1}, "headers": key}),
            ("/api/chat/{chatId}/media/{mediaId}", "get",
             f"/api/chat/{chat}/media/{seeded.media_id}", {"headers": key}),
            ("/api/chat/media/public/{token}/{name}", "get",
             seeded.public_path, {}),
            ("/api/chat/media/public/{token}/{name}", "get", "/api/chat/media/public/x/a.png", {}),
            ("/api/chat/chats/{chatId}", "delete", f"/api/chat/chats/{chat}", {"headers": key}),
            ("/api/chat/chats/{chatId}", "delete", f"/api/chat/chats/{chat}", {"headers": key}),
        ]  # fmt: skip
        seen: set[tuple[str, str]] = set()
        statuses: set[int] = set()
        for path, method, url, kwargs in calls:
            response = await api.request(method.upper(), url, **kwargs)
            check(response, path, method)
            seen.add((path, method))
            statuses.add(response.status_code)
        assert {200, 204, 400, 401, 404, 415} <= statuses
        assert 503 not in statuses
        every = {(p, m) for p, ops in DOCUMENT["paths"].items() if CHATHUB.match(p) for m in ops}
        assert seen == every  # each operation answered at least once


# --- schemathesis on the read routes ------------------------------------------------------


@dataclass
class Live:
    server: LiveServer
    api_key: str
    chat: SeededChat
    organization_id: int


async def _seed(url: str, account_id: str) -> tuple[SeededChat, int]:
    store = SqlStore(url, SystemClock(), sqlite_synchronous="NORMAL", pool_size=2)
    try:
        org = await store.create_organization(account_id, "Support")
        await store.synchronize_operators(account_id, [OperatorSync(org.id, "Ann")])
        return await chat_with_upload(store, account_id, org.id, "7000000001:st"), org.id
    finally:
        await store.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """`cascade api` on a migrated SQLite file with an account (limits that never bite), an
    organization, a chat and an operator's upload, so lookups find something."""
    tmp: Path = tmp_path_factory.mktemp("chathub-openapi")
    port = free_port()
    env = server_env(tmp, port)
    env["CASCADE_PUBLIC_MEDIA_RATE"] = UNLIMITED  # 429 is documented; the rest is the point
    env["CASCADE_PUBLIC_MEDIA_BURST"] = UNLIMITED
    created = unlimited_account(env)
    seeded, org_id = asyncio.run(_seed(env["CASCADE_DATABASE_URL"], created["accountId"]))
    server = start_server(["api"], env, port)
    try:
        yield Live(server, created["apiKey"], seeded, org_id)
    finally:
        stop_server(server)


def _config(live: Live) -> str:
    return st_config(
        live.api_key,
        {
            "path.chatId": ("chats", live.chat.chat_id),
            "path.mediaId": ("media", live.chat.media_id),
            "path.token": ("tokens", live.chat.media_token),
            "query.organizationId": ("organizations", live.organization_id),
        },
    )


@pytest.mark.live
def test_the_read_routes_match_the_document(live: Live, tmp_path: Path) -> None:
    output = st_run(
        live.server.base_url,
        _config(live),
        HOOKS,
        tmp_path,
        SEED,
        *("--max-examples", str(MAX_EXAMPLES)),
        *("--include-path-regex", CHATHUB.pattern),
        *(arg for method in ("POST", "PUT", "DELETE") for arg in ("--exclude-method", method)),
    )
    reads = sum(
        "get" in operations for path, operations in DOCUMENT["paths"].items() if CHATHUB.match(path)
    )
    assert reads == 6
    assert re.search(rf"Tested: {reads}\b", output), output  # every one was run
