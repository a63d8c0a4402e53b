"""Shared fixtures: databases (SQLite and PostgreSQL), the store, the app, live servers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from selenium import webdriver

from cascade.bootstrap import build_app
from cascade.clock import ManualClock
from cascade.config import Settings
from cascade.security import hash_secret, new_api_key
from cascade.store.memory import MemoryStore
from cascade.store.migrate import upgrade
from cascade.store.schema import metadata
from cascade.store.sql import SqlStore
from tests import services
from tests.browser import chromium
from tests.e2e_stack import Stack, build_stack
from tests.ports import free_port

BACKENDS = ["sqlite", "postgresql"]
STORE_BACKENDS = ["memory", *BACKENDS]  # the store contract also holds for MemoryStore


# --- databases --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets a copy (migrating costs ~100 ms)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_session_url() -> Iterator[str]:
    error = services.ensure_postgres()
    if error:
        services.unavailable("PostgreSQL", error)
    url = services.create_database()
    upgrade(url)
    yield url
    services.drop_database(url)


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database (no tables), dropped afterwards."""
    error = services.ensure_postgres()
    if error:
        services.unavailable("PostgreSQL", error)
    url = services.create_database()
    try:
        yield url
    finally:
        services.drop_database(url)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of each backend."""
    return database_url(request, request.param, tmp_path)


def database_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    """A migrated, empty database of `backend` (sqlite or postgresql)."""
    if backend == "sqlite":
        path = tmp_path / "cascade.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_session_url")
    request.node.add_marker(pytest.mark.postgres)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "cascade.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def store(db_url: str, clock: ManualClock) -> AsyncIterator[SqlStore]:
    store = SqlStore(db_url, clock, sqlite_synchronous="NORMAL", pool_size=4)
    if store.dialect == "postgresql":
        await wipe(store)
    yield store
    await store.close()


@pytest.fixture(params=STORE_BACKENDS)
def any_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """ "memory", or a migrated, empty database of each SQL backend (migrated outside any
    event loop: Alembic runs one of its own)."""
    if request.param == "memory":
        return "memory"
    return database_url(request, request.param, tmp_path)


@pytest.fixture
async def any_store(
    any_store_url: str, clock: ManualClock
) -> AsyncIterator[SqlStore | MemoryStore]:
    """A store of each backend: in memory, over SQLite, over PostgreSQL (for the suites
    that hold every store to one contract: they name it `store` in their module)."""
    if any_store_url == "memory":
        yield MemoryStore(clock)
        return
    store = SqlStore(any_store_url, clock, sqlite_synchronous="NORMAL", pool_size=4)
    if store.dialect == "postgresql":
        await wipe(store)
    yield store
    await store.close()


async def wipe(store: SqlStore) -> None:
    """Empty every table (PostgreSQL databases are shared by the session's tests)."""
    names = ", ".join(table.name for table in reversed(metadata.sorted_tables))
    async with store._writer.begin() as conn:
        await conn.execute(sa.text(f"TRUNCATE {names} CASCADE"))


# --- accounts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TestAccount:
    __test__ = False
    id: str
    key: str
    key_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Authorization-Key": self.key, "Content-Type": "application/json"}


async def make_account(store: SqlStore | MemoryStore, name: str = "acme") -> TestAccount:
    account = await store.create_account(name, name[:28])
    key = new_api_key()
    key_id = await store.add_api_key(account.id, hash_secret(key))
    return TestAccount(account.id, key, key_id)


@pytest.fixture
async def account(store: SqlStore) -> TestAccount:
    return await make_account(store)


# --- the app, in process ----------------------------------------------------------------


def test_settings(db_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": db_url,
        "public_url": "http://cascade.test",
        "auth_cache_seconds": 0.0,
        "sqlite_synchronous": "NORMAL",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def client(
    store: SqlStore, clock: ManualClock, db_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the real app in process, on the test's store and clock."""
    app = build_app(test_settings(db_url), clock=clock, store=store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cascade.test") as c:
        yield c


# --- live servers on loopback -------------------------------------------------------------


def cascade_cli(*args: str, env: dict[str, str], timeout: float = 60) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "cascade", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"cascade {' '.join(args)} failed: {result.stderr}")
    return result.stdout


@dataclass
class LiveServer:
    base_url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]


def wait_until_up(
    url: str,
    process: subprocess.Popen[bytes],
    timeout: float = 30,
    output: Callable[[], str] = str,
) -> None:
    """Wait until `url` answers 200 while `process` runs; `output` tells what it printed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}\n{output()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"server at {url} did not come up in {timeout}s\n{output()}")


def start_server(args: list[str], env: dict[str, str], port: int) -> LiveServer:
    process = subprocess.Popen(
        [sys.executable, "-m", "cascade", *args, "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/healthz", process)
    except AssertionError:
        process.kill()
        raise
    return LiveServer(base, env, process)


def stop_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture
def live_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a live server on a fresh SQLite file (migrated)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASCADE_")}
    env["CASCADE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'live.db'}"
    env["CASCADE_SQLITE_SYNCHRONOUS"] = "NORMAL"
    cascade_cli("migrate", env=env)
    return env


@pytest.fixture
def live_server(live_env: dict[str, str]) -> Iterator[LiveServer]:
    port = free_port()
    live_env["CASCADE_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    server = start_server(["api"], live_env, port)
    yield server
    stop_server(server)


# --- a whole installation, and a browser --------------------------------------------------------


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """The simulators, `cascade api` and a worker as processes (tests/e2e_stack.py), for
    one test; modules that share one across their tests define their own `stack`."""
    running = build_stack(tmp_path / "stack")
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    """Headless Chromium with a fresh profile (tests/browser.py)."""
    with chromium(tmp_path / "profile") as driver:
        yield driver
