"""Failed password sign-ins are throttled per login and per client address, on each
surface that takes a password: the console's sign-in, ChatHub's company get-token, and
HTTP Basic on /bat. The app in process on SQLite, its limiter on the test's clock, each
client address an `httpx.ASGITransport` of its own.

Limits here: a login has 3 failures, then one more every 6 s; an address 5, then one
every 2 s.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from cascade.api.ratelimit import MemoryLimiter, RedisLimiter
from cascade.api.sign_in_throttle import TOO_MANY_SIGN_INS, SignInThrottle
from cascade.bootstrap import build_app
from cascade.clock import ManualClock
from cascade.config import Settings, env_name
from cascade.domain.ratelimit import Rate
from cascade.security import Passwords
from cascade.store.sql import SqlStore
from tests import services
from tests.conftest import make_account
from tests.conftest import test_settings as app_settings

LOGIN, OTHER_LOGIN, PASSWORD = "acme-ops", "beta-ops", "correct horse battery staple"
LOGIN_BURST, LOGIN_EVERY_S = 3, 6.0
ADDRESS_BURST, ADDRESS_EVERY_S = 5, 2.0
CHEAP = Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))

Attempt = Callable[[httpx.AsyncClient, str, str], Awaitable[httpx.Response]]


# --- each surface: one attempt, and how it answers ----------------------------------------


async def console_attempt(client: httpx.AsyncClient, login: str, password: str) -> httpx.Response:
    client.cookies.clear()  # signed in or not, each attempt is a browser's first
    page = await client.get("/console/sign-in")
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    form = {"csrf": found.group(1), "login": login, "password": password, "next": ""}
    return await client.post("/console/sign-in", data=form)


async def chathub_attempt(client: httpx.AsyncClient, login: str, password: str) -> httpx.Response:
    return await client.post(
        "/api/company/get-token",
        headers={"Content-Type": "application/json"},
        content=json.dumps({"login": login, "password": password}),
    )


async def bat_attempt(client: httpx.AsyncClient, login: str, password: str) -> httpx.Response:
    token = base64.b64encode(f"{login}:{password}".encode()).decode()
    return await client.get("/bat/message/none", headers={"Authorization": f"Basic {token}"})


@dataclass(frozen=True)
class Surface:
    name: str
    attempt: Attempt
    signed_in: Callable[[httpx.Response], bool]
    refused: int  # a wrong password's status

    def assert_throttled(self, response: httpx.Response) -> float:
        """The surface's own 429, with Retry-After (whole seconds, at least 1)."""
        assert response.status_code == 429, response.text
        wait = int(response.headers["retry-after"])
        assert wait >= 1
        if self.name == "console":
            assert response.headers["content-type"].startswith("text/html")
            assert TOO_MANY_SIGN_INS in response.text
            assert 'name="login"' in response.text  # the sign-in page, to try again
        elif self.name == "chathub":
            assert response.headers["content-type"].startswith("application/problem+json")
            body = response.json()
            assert (body["status"], body["detail"]) == (429, TOO_MANY_SIGN_INS)
        else:  # SPEC D6
            assert response.json() == {
                "status": 429,
                "error": "Too Many Requests",
                "message": TOO_MANY_SIGN_INS,
            }
        return float(wait)


SURFACES = [
    Surface("console", console_attempt, lambda r: r.status_code == 303, 401),
    Surface("chathub", chathub_attempt, lambda r: r.status_code == 200, 401),
    # the message does not exist: past authentication, /bat answers 404
    Surface("bat", bat_attempt, lambda r: r.status_code == 404, 401),
]


@dataclass
class World:
    clock: ManualClock
    here: httpx.AsyncClient  # one client address
    there: httpx.AsyncClient  # another


@pytest.fixture(params=SURFACES, ids=[s.name for s in SURFACES])
def surface(request: pytest.FixtureRequest) -> Surface:
    found: Surface = request.param
    return found


@pytest.fixture
async def world(sqlite_url: str, clock: ManualClock) -> AsyncIterator[World]:
    store = SqlStore(sqlite_url, clock, sqlite_synchronous="NORMAL", pool_size=4)
    for name, login in (("acme", LOGIN), ("beta", OTHER_LOGIN)):
        account = await make_account(store, name)
        await store.set_login(account.id, login, CHEAP.hash(PASSWORD))
    settings = app_settings(
        sqlite_url,
        jwt_secret="s" * 32,
        sign_in_login_burst=LOGIN_BURST,
        sign_in_login_interval_s=LOGIN_EVERY_S,
        sign_in_address_burst=ADDRESS_BURST,
        sign_in_address_interval_s=ADDRESS_EVERY_S,
    )
    app = build_app(settings, clock=clock, store=store)

    def client(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://cascade.test")

    async with client("192.0.2.1") as here, client("192.0.2.2") as there:
        yield World(clock, here, there)
    await store.close()


async def fail(surface: Surface, client: httpx.AsyncClient, login: str, times: int) -> None:
    for n in range(times):
        response = await surface.attempt(client, login, f"wrong {n}")
        assert response.status_code == surface.refused, (n, response.text)


# --- per login --------------------------------------------------------------------------


async def test_the_attempt_after_a_logins_failures_is_429_until_the_wait_is_over(
    surface: Surface, world: World
) -> None:
    w = world
    await fail(surface, w.here, LOGIN, LOGIN_BURST)
    wait = surface.assert_throttled(await surface.attempt(w.here, LOGIN, "wrong again"))
    assert wait == LOGIN_EVERY_S
    # the right password too, and from another address: the login is held back
    surface.assert_throttled(await surface.attempt(w.here, LOGIN, PASSWORD))
    surface.assert_throttled(await surface.attempt(w.there, LOGIN, PASSWORD))
    # another login from the same address is not
    assert surface.signed_in(await surface.attempt(w.here, OTHER_LOGIN, PASSWORD))
    w.clock.advance(wait - 0.5)
    surface.assert_throttled(await surface.attempt(w.here, LOGIN, PASSWORD))
    w.clock.advance(0.5)
    assert surface.signed_in(await surface.attempt(w.here, LOGIN, PASSWORD))


async def test_an_unknown_login_is_held_back_alike(surface: Surface, world: World) -> None:
    """A 429 says nothing of whether the login exists."""
    w = world
    await fail(surface, w.here, "nobody", LOGIN_BURST)
    unknown = await surface.attempt(w.here, "nobody", "x")
    await fail(surface, w.there, LOGIN, LOGIN_BURST)
    known = await surface.attempt(w.there, LOGIN, "x")
    assert surface.assert_throttled(unknown) == surface.assert_throttled(known)
    if surface.name != "console":  # the console's page carries its session's own token
        assert unknown.content == known.content


async def test_a_right_password_is_never_refused_before_the_limit(
    surface: Surface, world: World
) -> None:
    w = world
    await fail(surface, w.here, LOGIN, LOGIN_BURST - 1)
    assert surface.signed_in(await surface.attempt(w.here, LOGIN, PASSWORD))
    # successes are not counted: a client that signs every request goes on
    for _ in range(2 * (LOGIN_BURST + ADDRESS_BURST)):
        assert surface.signed_in(await surface.attempt(w.here, LOGIN, PASSWORD))


# --- per address ------------------------------------------------------------------------


async def test_the_attempt_after_an_addresss_failures_is_429_for_any_login(
    surface: Surface, world: World
) -> None:
    w = world
    for n in range(ADDRESS_BURST):  # each login stays within its own limit
        await fail(surface, w.here, f"guess-{n}", 1)
    wait = surface.assert_throttled(await surface.attempt(w.here, "guess-new", "x"))
    assert wait == ADDRESS_EVERY_S
    surface.assert_throttled(await surface.attempt(w.here, LOGIN, PASSWORD))
    # another address is not held back, for the same logins
    assert surface.signed_in(await surface.attempt(w.there, LOGIN, PASSWORD))
    await fail(surface, w.there, "guess-0", 1)
    w.clock.advance(wait)
    assert surface.signed_in(await surface.attempt(w.here, LOGIN, PASSWORD))


# --- the limiter's peek ----------------------------------------------------------------


async def test_peek_takes_nothing_and_agrees_with_hit() -> None:
    clock = ManualClock()
    limiter = MemoryLimiter(clock)
    rate = Rate(0.5, 2)
    for _ in range(5):
        assert (await limiter.peek("k", rate)).allowed
    assert (await limiter.hit("k", rate)).allowed
    assert (await limiter.hit("k", rate)).allowed
    peeked, hit = await limiter.peek("k", rate), await limiter.hit("k", rate)
    assert (peeked.allowed, peeked.retry_after) == (hit.allowed, hit.retry_after) == (False, 2.0)


@pytest.mark.redis
async def test_peek_through_redis_takes_nothing_and_agrees_with_hit() -> None:
    error = services.redis_error()
    if error:
        services.unavailable("Redis", error)
    limiter = RedisLimiter(services.REDIS_URL, prefix=f"cascade:test-peek:{uuid.uuid4().hex}:")
    rate = Rate(0.01, 2)  # one every 100 s: Redis's own clock cannot refill it meanwhile
    try:
        for _ in range(5):
            assert (await limiter.peek("k", rate)).allowed
        assert (await limiter.hit("k", rate)).allowed
        assert (await limiter.hit("k", rate)).allowed
        peeked, hit = await limiter.peek("k", rate), await limiter.hit("k", rate)
        assert (peeked.allowed, hit.allowed) == (False, False)
        assert 99 < peeked.retry_after <= 100
    finally:
        await limiter.close()


async def test_the_throttle_keeps_no_login_in_its_keys() -> None:
    clock = ManualClock()
    limiter = MemoryLimiter(clock)
    throttle = SignInThrottle(limiter, Rate(1, 1), Rate(1, 1))
    await throttle.failed("192.0.2.1", "secret-login")
    keys: dict[str, Any] = limiter._tat
    assert len(keys) == 2
    assert not any("secret-login" in key for key in keys)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("sign_in_login_interval_s", 0.0),
        ("sign_in_address_interval_s", -1.0),
        ("sign_in_login_burst", 0),
        ("sign_in_address_burst", 0),
        ("send_rate", 0.0),
        ("status_rate", -1.0),
        ("public_media_rate", 0.0),
        ("send_burst", 0),
        ("status_burst", 0),
        ("public_media_burst", 0),
    ],
)
def test_a_limit_that_cannot_be_is_refused_at_start(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=env_name(name)):
        Settings(**{name: value})  # type: ignore[arg-type]
