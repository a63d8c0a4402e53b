"""A hub connection follows who its caller is now, not only who it was when it connected
(SPEC E1, E4): an operator deleted is cut off for good, one moved to another organization
is closed to reconnect into the new one, and a company sees the organizations made after
it connected. The real app under uvicorn, people writing through the real Telegram
webhook, real WebSocket clients (the world of tests/test_chathub_audience.py). And across
two `cascade api` processes on PostgreSQL: a deletion made through one closes the
operator's connection held by the other, and `cascade accounts suspend` (a process with no
hub) closes the account's connections on both; with Redis configured, the CLI tells it
there.

That a closed connection hears nothing more is shown by the first thing it receives after
the change being its Close message, though events it would have seen follow at once.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import httpx
import pytest
import websockets

from cascade.api.chathub.conversations import account_suspended
from cascade.api.chathub.hub import RedisBus, bus_records
from cascade.clock import SystemClock
from cascade.domain.chats import OperatorSync
from cascade.store.sql import SqlStore
from tests.chathub_company import PASSWORD, SECRET
from tests.conftest import TestAccount, make_account
from tests.hub_support import WAIT_S, Raw
from tests.test_chathub_audience import (  # noqa: F401 (bot_api, world: fixtures)
    World,
    _bot,
    bot_api,
    connected,
    events,
    world,
    write,
)
from tests.test_hub_fanout import (  # noqa: F401 (pg_account, redis_url, servers: fixtures)
    Servers,
    _env,
    client,
    pg_account,
    redis_url,
    servers,
)

CLOSE = 7


async def post(w: World, path: str, body: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=w.url) as api:
        response = await api.post(path, headers=w.acme.key, json=body)
    assert response.status_code == 200, response.text
    return response


async def dismissed(raw: Raw) -> dict[str, Any]:
    """The next message is a Close, then the socket closes; the Close message."""
    message = await raw.next()
    assert message["type"] == CLOSE, message
    assert await raw.closed() == 1000
    return message


async def test_a_deleted_operator_is_closed_with_no_reconnect_and_hears_nothing_more(
    world: World,  # noqa: F811
) -> None:
    w = world
    ann, bea = w.acme.operator, w.bea
    write(w.url, w.support_bot, 1001, "hello")  # Ann's chat: deleting her hands it to Bea
    chat = w.chat_of(1001)
    ann_token = w.operator_token(ann)
    async with connected(w.url, ann_token, w.operator_token(bea)) as (anns, beas):
        await post(w, "/api/operator/status", {"id": ann.id, "status": 2})
        # Bea is told her new chat; Ann, whose chat it was, is closed before it is told
        [(target, dto)] = await events(beas, 1)
        assert (target, dto["id"], dto["operator"]["id"]) == ("ChatCreated", chat, bea.id)
        closing = await dismissed(anns)
        assert closing == {"type": CLOSE, "error": "The operator was deleted"}
        # and she cannot come back
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(
                w.url.replace("http://", "ws://") + "/chathub?access_token=" + ann_token
            )
        assert refused.value.response.status_code == 401


async def test_a_moved_operator_reconnects_into_its_new_organization(
    world: World,  # noqa: F811
) -> None:
    w = world
    ann, bea, sales = w.acme.operator, w.bea, w.bob.organization_id
    ann_token = w.operator_token(ann)
    async with connected(w.url, ann_token, w.operator_token(bea)) as (anns, beas):
        # Ann to Sales; Bea named too, her organization unchanged
        moved = await post(
            w,
            "/api/operator/synchronize",
            [
                {"id": ann.id, "organizationId": sales, "name": "Ann"},
                {"id": bea.id, "organizationId": w.acme.org.id, "name": "Bea"},
            ],
        )
        assert [op["organization"]["id"] for op in moved.json()] == [sales, w.acme.org.id]
        closing = await dismissed(anns)
        assert closing["allowReconnect"] is True
        assert "moved to another organization" in closing["error"]
        # Bea still connected: her first event is support's next chat
        write(w.url, w.support_bot, 1001, "to support")
        [(target, dto)] = await events(beas, 1)
        assert (target, dto["organizationId"]) == ("ChatCreated", w.acme.org.id)
    async with connected(w.url, ann_token) as (anns,):  # the same token, reconnecting
        write(w.url, w.support_bot, 1001, "support again")  # her old organization's
        write(w.url, w.sales_bot, 2002, "to sales")
        [(target, dto)] = await events(anns, 1)
        assert (target, dto["organizationId"]) == ("ChatCreated", sales)


async def test_a_company_sees_an_organization_made_after_it_connected(
    world: World,  # noqa: F811
    sqlite_url: str,
) -> None:
    w = world
    async with httpx.AsyncClient(base_url=w.url) as api:
        got = await api.post(
            "/api/company/get-token", json={"login": w.acme.login, "password": PASSWORD}
        )
    company_token = got.json()["token"]
    async with connected(w.url, w.acme.account.key, company_token) as clients:
        store = SqlStore(sqlite_url, SystemClock())  # as `cascade orgs create` / `bots`
        try:
            billing = await store.create_organization(w.acme.account.id, "Billing")
            bot = await _bot(store, w.acme, billing.id, 4)
        finally:
            await store.close()
        write(w.url, bot, 4004, "to billing")
        for raw in clients:
            found = await events(raw, 2)
            assert [target for target, _ in found] == ["ChatCreated", "ReceiveMessage"]
            assert found[0][1]["organizationId"] == billing.id
            assert found[1][1]["message"] == "to billing"


# --- several API processes ----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.live
async def test_a_dismissal_reaches_connections_on_every_process_from_rest_and_the_cli(
    pg_account: tuple[str, TestAccount],  # noqa: F811
    servers: Servers,  # noqa: F811
) -> None:
    url, account = pg_account
    store = SqlStore(url, SystemClock(), pool_size=2)
    try:
        org = await store.create_organization(account.id, "support")
        [ann] = await store.synchronize_operators(account.id, [OperatorSync(org.id, "Ann")])
    finally:
        await store.close()
    env = {**_env(url, None), "CASCADE_JWT_SECRET": SECRET}
    a = await asyncio.to_thread(servers.cascade_api, env, "granian")
    b = await asyncio.to_thread(servers.cascade_api, env, "uvicorn")
    key = {"X-Authorization-Key": account.key}
    async with httpx.AsyncClient() as http:
        got = await http.post(f"{a}/api/operator/get-token", headers=key, json={"id": ann.id})
        anns = await client(b, got.json()["token"])
        companies = [await client(a, account.key), await client(b, account.key)]
        # deleted through process A: Ann's connection on B closes
        deleted = await http.post(
            f"{a}/api/operator/status", headers=key, json={"id": ann.id, "status": 2}
        )
        assert deleted.status_code == 200, deleted.text
        assert await dismissed(anns) == {"type": CLOSE, "error": "The operator was deleted"}
    # suspended by the CLI, a process with no hub: the company's connections on both close
    suspend = [sys.executable, "-m", "cascade", "accounts", "suspend", account.id]
    done = await asyncio.to_thread(subprocess.run, suspend, env=env, capture_output=True)
    assert done.returncode == 0, done.stderr
    assert b"ChatHub connections are told to close" in done.stdout
    for raw in companies:
        assert await dismissed(raw) == {"type": CLOSE, "error": "The account is suspended"}


async def test_the_cli_tells_the_api_processes_through_redis_when_configured(
    sqlite_url: str,
    redis_url: str,  # noqa: F811
) -> None:
    store = SqlStore(sqlite_url, SystemClock())
    try:
        account = await make_account(store, "redis")
    finally:
        await store.close()
    heard: asyncio.Queue[bytes] = asyncio.Queue()
    listener = RedisBus(redis_url)  # as an API process's hub listens
    await listener.start(heard.put_nowait)
    try:
        env = _env(sqlite_url, redis_url)
        suspend = [sys.executable, "-m", "cascade", "accounts", "suspend", account.id]
        done = await asyncio.to_thread(subprocess.run, suspend, env=env, capture_output=True)
        assert done.returncode == 0, done.stderr
        payload = await asyncio.wait_for(heard.get(), WAIT_S)
    finally:
        await listener.close()
    assert bus_records.read(payload) == account_suspended(account.id)
