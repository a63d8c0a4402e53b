"""Rate limits (SPEC A5): 100/s with bursts to 150 on the send endpoints, 50/s (burst 75) on
the status endpoints, per account, configurable, and shared through Redis by API processes.

In-process tests run on the ManualClock, so "within one second" is exact: the clock does not
move unless the test moves it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import sqlalchemy as sa

from cascade.clock import ManualClock
from cascade.store import schema as t
from cascade.store.sql import SqlStore
from tests import services
from tests.conftest import (
    LiveServer,
    TestAccount,
    cascade_cli,
    make_account,
    stop_server,
    wait_until_up,
)
from tests.ports import free_port

SEND = "/api/CascadeMessage/send_message/async"
STATUS = "/api/CascadeMessage/status"


class Sender:
    """Sends one valid, distinct message per call."""

    def __init__(self, client: httpx.AsyncClient, account: TestAccount) -> None:
        self.client = client
        self.account = account
        self.count = 0

    async def __call__(self) -> httpx.Response:
        self.count += 1
        body = [
            {
                "id": f"rl-{self.count}",
                "fromName": "Shop",
                "toPhone": "+380501234567",
                "messageType": "transaction",
                "text": f"Message {self.count}",
            }
        ]
        return await self.client.post(SEND, json=body, headers=self.account.headers)


async def message_count(store: SqlStore) -> int:
    async with store._reader.connect() as conn:
        query = sa.select(sa.func.count()).select_from(t.messages)
        return int((await conn.execute(query)).scalar_one())


def assert_rate_limited(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    assert response.json() == {
        "error": {"code": "RATE_LIMITED", "message": response.json()["error"]["message"]}
    }
    retry_after = int(response.headers["Retry-After"])
    assert retry_after >= 1
    return retry_after


async def test_151_send_requests_within_one_second(
    client: httpx.AsyncClient, clock: ManualClock, store: SqlStore, account: TestAccount
) -> None:
    send = Sender(client, account)
    codes = [(await send()).status_code for _ in range(150)]
    assert codes == [200] * 150
    assert_rate_limited(await send())
    assert await message_count(store) == 150  # the refused request stored nothing

    # One second later the bucket has refilled by 100: exactly 100 more, then 429 again.
    clock.advance(1.0)
    codes = [(await send()).status_code for _ in range(100)]
    assert codes == [200] * 100
    assert_rate_limited(await send())

    # From then on, one request per 10 ms (100/s) is always served.
    for _ in range(50):
        clock.advance(0.01)
        response = await send()
        assert response.status_code == 200, response.text
    assert await message_count(store) == 300


async def test_retry_after_is_enough(
    client: httpx.AsyncClient, clock: ManualClock, store: SqlStore, account: TestAccount
) -> None:
    await store.set_account_limits(account.id, send=(0.5, 2))  # one request per 2 s
    send = Sender(client, account)
    assert [(await send()).status_code for _ in range(2)] == [200, 200]
    retry_after = assert_rate_limited(await send())
    assert retry_after == 2
    clock.advance(retry_after - 0.5)
    assert_rate_limited(await send())
    clock.advance(0.5)
    assert (await send()).status_code == 200


async def test_accounts_have_their_own_buckets(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    send = Sender(client, account)
    for _ in range(150):
        await send()
    assert_rate_limited(await send())
    other = Sender(client, await make_account(store, "other"))
    assert (await other()).status_code == 200


async def test_status_endpoints_allow_75_then_limit(
    client: httpx.AsyncClient, account: TestAccount, clock: ManualClock
) -> None:
    send = Sender(client, account)
    [accepted] = (await send()).json()
    url = f"{STATUS}/{accepted['messageId']}"
    codes = [(await client.get(url, headers=account.headers)).status_code for _ in range(75)]
    assert codes == [200] * 75
    assert_rate_limited(await client.get(url, headers=account.headers))
    by_tracking = await client.get(STATUS, params={"trackingId": "rl-1"}, headers=account.headers)
    assert_rate_limited(by_tracking)  # both status endpoints draw from one bucket

    # The send bucket is separate.
    assert (await send()).status_code == 200
    # 50/s: after one second, 50 more.
    clock.advance(1.0)
    codes = [(await client.get(url, headers=account.headers)).status_code for _ in range(51)]
    assert codes == [200] * 50 + [429]


async def test_account_limits_are_configurable(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount, clock: ManualClock
) -> None:
    await store.set_account_limits(account.id, send=(2, 3), status=(1, 1))
    send = Sender(client, account)
    assert [(await send()).status_code for _ in range(4)] == [200, 200, 200, 429]
    clock.advance(0.5)  # 2/s: one more after half a second
    assert [(await send()).status_code for _ in range(2)] == [200, 429]
    url = f"{STATUS}/unknown"
    assert (await client.get(url, headers=account.headers)).status_code == 404
    assert_rate_limited(await client.get(url, headers=account.headers))


async def test_unauthenticated_requests_do_not_drain_the_account(
    client: httpx.AsyncClient, account: TestAccount
) -> None:
    """Requests with a wrong key are 401 and must not spend the account's budget."""
    headers = {"X-Authorization-Key": "wrong", "Content-Type": "application/json"}
    for _ in range(200):
        response = await client.post(SEND, content=b"[]", headers=headers)
        assert response.status_code == 401
    assert (await Sender(client, account)()).status_code == 200


# --- shared through Redis by several API processes ---------------------------------------


@pytest.fixture
def redis_url() -> str:
    error = services.redis_error()
    if error:
        services.unavailable("Redis", error)
    return services.REDIS_URL


def _env(tmp_path: Path, redis_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASCADE_")}
    env["CASCADE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'shared.db'}"
    env["CASCADE_SQLITE_SYNCHRONOUS"] = "NORMAL"
    if redis_url:
        env["CASCADE_REDIS_URL"] = redis_url
    return env


def _alternate(servers: list[LiveServer], key: str, count: int) -> list[httpx.Response]:
    headers = {"X-Authorization-Key": key, "Content-Type": "application/json"}
    answers = []
    for index in range(count):
        server = servers[index % len(servers)]
        body: list[dict[str, Any]] = [
            {
                "id": f"shared-{index}",
                "fromName": "Shop",
                "toPhone": "+380501234567",
                "messageType": "transaction",
                "text": f"Message {index}",
            }
        ]
        answers.append(
            httpx.post(
                server.base_url + SEND, content=json.dumps(body), headers=headers, timeout=10
            )
        )
    return answers


def _start_servers(env: dict[str, str], count: int) -> list[LiveServer]:
    """Start `count` API processes at once, then wait for each to answer."""
    servers: list[LiveServer] = []
    try:
        for _ in range(count):
            port = free_port()
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "cascade",
                    "api",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            servers.append(LiveServer(f"http://127.0.0.1:{port}", env, process))
        for server in servers:
            wait_until_up(server.base_url + "/healthz", server.process)
    except BaseException:
        for server in servers:
            stop_server(server)
        raise
    return servers


def _run_two_servers(env: dict[str, str], key: str, count: int) -> list[httpx.Response]:
    servers = _start_servers(env, 2)
    try:
        return _alternate(servers, key, count)
    finally:
        for server in servers:
            stop_server(server)


def _stored_messages(tmp_path: Path) -> int:
    with sqlite3.connect(tmp_path / "shared.db") as conn:
        return int(conn.execute("SELECT count(*) FROM messages").fetchone()[0])


@pytest.mark.live
@pytest.mark.redis
def test_two_api_processes_enforce_one_limit_through_redis(tmp_path: Path, redis_url: str) -> None:
    env = _env(tmp_path, redis_url)
    cascade_cli("migrate", env=env)
    created = json.loads(cascade_cli("accounts", "create", "shared", "--json", env=env))
    account_id, key = created["accountId"], created["apiKey"]
    cascade_cli(
        "accounts", "limits", account_id, "--send-rate", "0.01", "--send-burst", "5", env=env
    )
    try:
        answers = _run_two_servers(env, key, 10)
    finally:
        redis.Redis.from_url(redis_url).delete(f"cascade:rl:{account_id}:send")
    codes = [a.status_code for a in answers]
    assert codes.count(200) == 5, codes
    assert codes.count(429) == 5, codes
    assert codes[:5] == [200] * 5  # both processes served from the one bucket, then both refused
    for refused in answers[5:]:
        assert refused.headers["Retry-After"].isdigit()
        assert int(refused.headers["Retry-After"]) >= 1
    assert _stored_messages(tmp_path) == 5


@pytest.mark.live
def test_without_redis_each_process_has_its_own_bucket(tmp_path: Path) -> None:
    """The control for the test above: the sharing comes from Redis, not from the database."""
    env = _env(tmp_path, None)
    cascade_cli("migrate", env=env)
    created = json.loads(cascade_cli("accounts", "create", "alone", "--json", env=env))
    cascade_cli(
        "accounts",
        "limits",
        created["accountId"],
        "--send-rate",
        "0.01",
        "--send-burst",
        "5",
        env=env,
    )
    codes = [a.status_code for a in _run_two_servers(env, created["apiKey"], 12)]
    assert codes.count(200) == 10, codes
