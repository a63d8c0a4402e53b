"""Several API processes: an event published on one reaches hub clients on every one,
through PostgreSQL LISTEN/NOTIFY (the store's database) or Redis pub/sub.

Real server processes on loopback ports: two `cascade api` (granian and uvicorn) against
the real PostgreSQL, and two processes of the same app with one hub method that
publishes (tests/hub_app.py), against PostgreSQL and against Redis. An event far past
NOTIFY's 8,000-byte limit arrives whole.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from cascade.api.chathub.hub import Audience, Hub, PgBus, RedisBus
from cascade.clock import ManualClock
from cascade.store.sql import SqlStore
from tests import services
from tests.conftest import TestAccount, make_account, wait_until_up, wipe
from tests.hub_support import WAIT_S, Raw, handshake
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
BIG = "Довгий текст оператору. " * 700  # ~30,000 bytes of UTF-8: four NOTIFY pieces at least


@pytest.fixture
async def pg_account(pg_session_url: str) -> tuple[str, TestAccount]:
    store = SqlStore(pg_session_url, ManualClock(), pool_size=2)
    await wipe(store)
    account = await make_account(store, "fanout")
    await store.close()
    return pg_session_url, account


@pytest.fixture
def redis_url() -> str:
    error = services.redis_error()
    if error:
        services.unavailable("Redis", error)
    return services.REDIS_URL


def _env(database_url: str, redis_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASCADE_")}
    env["CASCADE_DATABASE_URL"] = database_url
    env["CASCADE_AUTH_CACHE_SECONDS"] = "0"
    env["PYTHONPATH"] = f"{ROOT / 'src'}:{ROOT}"
    if redis_url:
        env["CASCADE_REDIS_URL"] = redis_url
    return env


class Servers:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, command: list[str], env: dict[str, str], port: int) -> str:
        log = self.tmp_path / f"server-{port}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.processes.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url + "/healthz", process, 60, lambda: log.read_text(errors="replace"))
        return url

    def cascade_api(self, env: dict[str, str], server: str) -> str:
        port = free_port()
        command = [sys.executable, "-m", "cascade", "api", "--server", server]
        return self.start([*command, "--host", "127.0.0.1", "--port", str(port)], env, port)

    def hub_app(self, env: dict[str, str], server: str) -> str:
        port = free_port()
        if server == "granian":
            command = [sys.executable, "-m", "granian", "--interface", "asgi", "--factory"]
            command += ["--host", "127.0.0.1", "--port", str(port), "tests.hub_app:app"]
        else:
            command = [sys.executable, "-m", "uvicorn", "--factory", "tests.hub_app:app"]
            command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
        return self.start(command, env, port)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    running = Servers(tmp_path)
    yield running
    running.stop()


def ws_url(base: str, key: str, query: str = "") -> str:
    return base.replace("http://", "ws://") + f"/chathub?access_token={key}" + query


async def client(base: str, key: str, query: str = "") -> Raw:
    return await handshake(await websockets.connect(ws_url(base, key, query)))


async def event(raw: Raw) -> dict[str, Any]:
    message = await raw.next(within=WAIT_S * 2)
    assert message["type"] == 1, message
    return message


@pytest.mark.postgres
@pytest.mark.live
async def test_cascade_api_processes_share_connections_and_events_through_postgresql(
    pg_account: tuple[str, TestAccount], servers: Servers
) -> None:
    url, account = pg_account
    env = _env(url, None)
    a = await asyncio.to_thread(servers.cascade_api, env, "granian")
    b = await asyncio.to_thread(servers.cascade_api, env, "uvicorn")
    # negotiated on one process, connected on the other: the token needs no shared state
    async with httpx.AsyncClient() as http:
        negotiated = await http.post(
            a + "/chathub/negotiate?negotiateVersion=1",
            headers={"Authorization": f"Bearer {account.key}"},
        )
    assert negotiated.status_code == 200
    on_b = await client(b, account.key, "&id=" + negotiated.json()["connectionToken"])
    on_a = await client(a, account.key)
    # a publisher in a third process (as a webhook's worker would be) reaches both
    bus = PgBus(url)
    publisher = Hub(lambda _: _none(), bus, ManualClock())
    await publisher.publish("ChatCreated", [{"id": 1, "messSource": 2}], Audience(account.id))
    await publisher.publish("ReceiveMessage", [{"message": BIG}], Audience(account.id))
    for raw in (on_a, on_b):
        assert (await event(raw))["arguments"] == [{"id": 1, "messSource": 2}]
        assert (await event(raw))["arguments"] == [{"message": BIG}]
    await bus.close()
    for raw in (on_a, on_b):
        await raw.ws.close()


async def _none() -> None:
    return None


@pytest.mark.live
@pytest.mark.parametrize("backend", ["postgresql", "redis"])
async def test_an_event_published_on_one_process_reaches_clients_of_both(
    backend: str, pg_account: tuple[str, TestAccount], servers: Servers, request: Any
) -> None:
    url, account = pg_account
    request.node.add_marker(pytest.mark.postgres)
    redis = request.getfixturevalue("redis_url") if backend == "redis" else None
    env = _env(url, redis)
    a = await asyncio.to_thread(servers.hub_app, env, "granian")
    b = await asyncio.to_thread(servers.hub_app, env, "uvicorn")
    on_a = await client(a, account.key)
    on_b = await client(b, account.key)
    stranger = await client(b, await _other_key(url))
    for text in ("hello from process A", BIG):
        invocation = {"type": 1, "invocationId": "x", "target": "Announce", "arguments": [5, text]}
        await on_a.send(invocation)
        sent = {
            "type": 1,
            "target": "ReceiveMessage",
            "arguments": [{"chatId": 5, "message": text}],
        }
        # the caller's completion and the event may come in either order
        got = [await on_a.next(within=WAIT_S * 2), await on_a.next(within=WAIT_S * 2)]
        assert sorted(got, key=lambda m: m["type"]) == [
            sent,
            {"type": 3, "invocationId": "x", "result": "published"},
        ]
        assert await event(on_b) == sent
    # another account's client heard nothing: its first event is its own
    await stranger.send(
        {"type": 1, "invocationId": "y", "target": "Announce", "arguments": [6, "m"]}
    )
    got = [await stranger.next(within=WAIT_S * 2), await stranger.next(within=WAIT_S * 2)]
    assert sorted(m["type"] for m in got) == [1, 3]
    assert next(m for m in got if m["type"] == 1)["arguments"] == [{"chatId": 6, "message": "m"}]
    for raw in (on_a, on_b, stranger):
        await raw.ws.close()


async def _other_key(url: str) -> str:
    store = SqlStore(url, ManualClock(), pool_size=2)
    account = await make_account(store, "stranger")
    await store.close()
    return account.key


async def test_redis_bus_delivers_what_is_published(redis_url: str) -> None:
    heard: asyncio.Queue[bytes] = asyncio.Queue()
    listener, publisher = RedisBus(redis_url), RedisBus(redis_url)
    await listener.start(heard.put_nowait)
    payload = ("x" * 50_000).encode()
    await publisher.publish(payload)
    assert await asyncio.wait_for(heard.get(), WAIT_S) == payload
    await listener.close()
    await publisher.close()
