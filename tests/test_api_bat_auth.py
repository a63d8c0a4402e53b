"""Authentication on the core SMSBAT API (SPEC D2): each of the three ways, each refusal
with D6's body, and the cache of verified logins."""

from __future__ import annotations

import asyncio
import base64
import threading

import pytest
from argon2 import PasswordHasher

from cascade.api.auth import Authenticator, Principal
from cascade.api.bat_auth import (
    BAD_KEY,
    BAD_LOGIN,
    CHALLENGE,
    MALFORMED,
    NO_CREDENTIALS,
    SUSPENDED,
    TWO_ACCOUNTS,
    AuthFailure,
    authenticate_bat,
    basic_credentials,
)
from cascade.clock import ManualClock
from cascade.security import Passwords, Verified
from cascade.store.memory import MemoryStore
from tests.conftest import TestAccount, make_account

# argon2id as in production, with the least work argon2 allows: these tests count
# verifications, they do not time them
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "correct horse: battery staple"  # a colon in the password is the password's


class CountingPasswords(Passwords):
    """Passwords that count verifications and note the thread each ran in."""

    def __init__(self, hasher: PasswordHasher = CHEAP) -> None:
        super().__init__(hasher)
        self.verified = 0
        self.threads: set[int] = set()
        self.gate: threading.Event | None = None  # when set, verifications wait for it

    def verify(self, stored: str | None, password: str) -> Verified:
        self.verified += 1
        self.threads.add(threading.get_ident())
        if self.gate is not None:
            self.gate.wait(5)
        return super().verify(stored, password)


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {token}"}


class Setup:
    def __init__(self, cache_seconds: float = 0.0) -> None:
        self.clock = ManualClock()
        self.store = MemoryStore(self.clock)
        self.passwords = CountingPasswords()
        self.auth = Authenticator(self.store, self.clock, cache_seconds, self.passwords)

    async def account(self, name: str = "acme", login: str | None = "shop") -> TestAccount:
        account = await make_account(self.store, name)
        if login is not None:
            await self.set_password(account.id, login, PASSWORD)
        return account

    async def set_password(self, account_id: str, login: str, password: str) -> None:
        assert await self.store.set_login(account_id, login, self.passwords.hash(password))

    async def check(self, headers: dict[str, str]) -> Principal | AuthFailure:
        return await authenticate_bat(self.auth, headers, "192.0.2.1")


async def accepted(setup: Setup, headers: dict[str, str]) -> str:
    """The account id the headers authenticate as (failing the test if refused)."""
    answer = await setup.check(headers)
    assert isinstance(answer, Principal), answer
    assert answer.bots == ()
    return answer.account.id


def unauthorized(message: str) -> AuthFailure:
    return AuthFailure(401, message)


# --- the three ways ---------------------------------------------------------------------


async def test_basic_with_a_login_and_its_password() -> None:
    setup = Setup()
    account = await setup.account()
    assert await accepted(setup, basic("shop", PASSWORD)) == account.id


async def test_the_key_header() -> None:
    setup = Setup()
    account = await setup.account(login=None)
    assert await accepted(setup, {"x-authorization-key": account.key}) == account.id


async def test_basic_with_user_at_and_the_key_as_password() -> None:
    setup = Setup()
    account = await setup.account(login=None)
    assert await accepted(setup, basic("@", account.key)) == account.id


async def test_unicode_logins_and_passwords_travel_as_utf8() -> None:
    setup = Setup()
    account = await setup.account(login=None)
    await setup.set_password(account.id, "магазин", "пароль-ü")
    assert await accepted(setup, basic("магазин", "пароль-ü")) == account.id


async def test_a_key_header_and_basic_of_the_same_account() -> None:
    setup = Setup()
    account = await setup.account()
    both = {"x-authorization-key": account.key, **basic("shop", PASSWORD)}
    assert await accepted(setup, both) == account.id


# --- refusals: 401 ------------------------------------------------------------------------


async def test_a_wrong_password_and_an_unknown_login_are_answered_alike() -> None:
    """Same status, same body, and each one argon2 verification (the unknown login's
    against a dummy hash): nothing tells which logins exist."""
    setup = Setup()
    await setup.account()
    wrong = await setup.check(basic("shop", PASSWORD + "!"))
    assert setup.passwords.verified == 1
    unknown = await setup.check(basic("nobody", PASSWORD))
    assert setup.passwords.verified == 2
    assert wrong == unknown == unauthorized(BAD_LOGIN)
    assert wrong.body() == {"status": 401, "error": "Unauthorized", "message": BAD_LOGIN}
    assert wrong.headers() == {"WWW-Authenticate": CHALLENGE}


async def test_the_login_is_matched_exactly() -> None:
    setup = Setup()
    await setup.account()
    assert await setup.check(basic("Shop", PASSWORD)) == unauthorized(BAD_LOGIN)
    assert await setup.check(basic("shop ", PASSWORD)) == unauthorized(BAD_LOGIN)


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic !!!not-base64!!!",
        "Basic c2hvcA",  # base64 of "shop" without its padding
        "Basic " + base64.b64encode(b"shop-without-a-colon").decode(),
        "Basic " + base64.b64encode(b"shop:\xff\xfe").decode(),  # not UTF-8
        "Basic",
        "Basic ",
        "Bearer " + base64.b64encode(f"shop:{PASSWORD}".encode()).decode(),
        "Digest username=shop",
        "",
    ],
)
async def test_a_malformed_authorization_header(authorization: str) -> None:
    setup = Setup()
    await setup.account()
    assert await setup.check({"authorization": authorization}) == unauthorized(MALFORMED)
    assert setup.passwords.verified == 0


async def test_no_credentials_at_all() -> None:
    setup = Setup()
    await setup.account()
    refused = await setup.check({"content-type": "application/json"})
    assert refused == unauthorized(NO_CREDENTIALS)
    assert refused.body() == {"status": 401, "error": "Unauthorized", "message": NO_CREDENTIALS}


@pytest.mark.parametrize("key", ["", "csk_unknown"])
async def test_an_empty_or_unknown_key(key: str) -> None:
    setup = Setup()
    await setup.account()
    assert await setup.check({"x-authorization-key": key}) == unauthorized(BAD_KEY)
    assert await setup.check(basic("@", key)) == unauthorized(BAD_KEY)


async def test_a_revoked_key_either_way() -> None:
    setup = Setup()
    account = await setup.account()
    assert await setup.store.revoke_api_key(account.key_id)
    assert await setup.check({"x-authorization-key": account.key}) == unauthorized(BAD_KEY)
    assert await setup.check(basic("@", account.key)) == unauthorized(BAD_KEY)
    # its login still works: a login is a credential of its own
    assert await accepted(setup, basic("shop", PASSWORD)) == account.id


async def test_a_valid_credential_beside_an_invalid_one_is_refused() -> None:
    setup = Setup()
    account = await setup.account()
    wrong_password = {"x-authorization-key": account.key, **basic("shop", "wrong")}
    assert await setup.check(wrong_password) == unauthorized(BAD_LOGIN)
    wrong_key = {"x-authorization-key": "csk_unknown", **basic("shop", PASSWORD)}
    assert await setup.check(wrong_key) == unauthorized(BAD_KEY)


async def test_credentials_of_two_accounts_are_refused() -> None:
    setup = Setup()
    await setup.account("acme", login="shop")
    other = await setup.account("other", login=None)
    headers = {"x-authorization-key": other.key, **basic("shop", PASSWORD)}
    assert await setup.check(headers) == unauthorized(TWO_ACCOUNTS)


# --- refusals: 403 ------------------------------------------------------------------------


async def test_a_suspended_account_is_forbidden_however_it_authenticates() -> None:
    setup = Setup()
    account = await setup.account()
    assert await setup.store.set_suspended(account.id, True)
    forbidden = AuthFailure(403, SUSPENDED)
    for headers in (
        basic("shop", PASSWORD),
        {"x-authorization-key": account.key},
        basic("@", account.key),
    ):
        assert await setup.check(headers) == forbidden
    assert forbidden.body() == {"status": 403, "error": "Forbidden", "message": SUSPENDED}
    assert forbidden.headers() == {}
    # a wrong password of a suspended account is still a 401: 403 says the login is right
    assert await setup.check(basic("shop", "wrong")) == unauthorized(BAD_LOGIN)

    assert await setup.store.set_suspended(account.id, False)
    assert await accepted(setup, basic("shop", PASSWORD)) == account.id


# --- the cache of verified logins ---------------------------------------------------------


async def test_concurrent_requests_with_one_login_cost_one_verification() -> None:
    setup = Setup(cache_seconds=2.0)
    account = await setup.account()
    answers = await asyncio.gather(*(setup.check(basic("shop", PASSWORD)) for _ in range(50)))
    assert {a.account.id for a in answers if isinstance(a, Principal)} == {account.id}
    assert setup.passwords.verified == 1
    setup.clock.advance(0.9)  # within its time, before its refresh: no verification
    for _ in range(20):
        assert await accepted(setup, basic("shop", PASSWORD)) == account.id
    assert setup.passwords.verified == 1


async def test_a_wrong_password_is_never_cached() -> None:
    setup = Setup(cache_seconds=2.0)
    account = await setup.account()
    assert await accepted(setup, basic("shop", PASSWORD)) == account.id
    for expected in (2, 3):  # each wrong try is verified, and refused, again
        assert await setup.check(basic("shop", "wrong")) == unauthorized(BAD_LOGIN)
        assert setup.passwords.verified == expected
    # nor is an unknown login, nor does a refusal end the right password's entry
    assert await setup.check(basic("nobody", PASSWORD)) == unauthorized(BAD_LOGIN)
    assert await accepted(setup, basic("shop", PASSWORD)) == account.id
    assert setup.passwords.verified == 4


async def test_a_login_cached_for_one_password_is_not_another_login() -> None:
    """The cache is keyed by both: a second login with the same password is verified."""
    setup = Setup(cache_seconds=2.0)
    account = await setup.account()
    await setup.account("other", login="shop2")
    assert await accepted(setup, basic("shop", PASSWORD)) == account.id
    assert await accepted(setup, basic("shop2", PASSWORD)) != account.id
    assert setup.passwords.verified == 2


async def test_a_changed_password_stops_working_within_the_cache_time() -> None:
    setup = Setup(cache_seconds=2.0)
    account = await setup.account()
    assert await accepted(setup, basic("shop", PASSWORD)) == account.id
    await setup.set_password(account.id, "shop", "new password")
    # the old one may still be answered from the cache until its entry's time is up …
    assert await accepted(setup, basic("shop", PASSWORD)) == account.id
    setup.clock.advance(2.0)
    # … and not a moment longer
    assert await setup.check(basic("shop", PASSWORD)) == unauthorized(BAD_LOGIN)
    assert await accepted(setup, basic("shop", "new password")) == account.id


async def test_a_change_seen_by_a_refresh_ends_the_entry_at_once() -> None:
    setup = Setup(cache_seconds=2.0)
    account = await setup.account()
    await accepted(setup, basic("shop", PASSWORD))
    await setup.set_password(account.id, "shop", "new password")
    setup.clock.advance(1.5)  # past half its time: answered, and verified again behind
    assert await accepted(setup, basic("shop", PASSWORD)) == account.id
    answer: Principal | AuthFailure = unauthorized("not yet asked")
    for _ in range(400):  # until the refresh (in its thread) has found the change
        answer = await setup.check(basic("shop", PASSWORD))
        if isinstance(answer, AuthFailure):
            break
        await asyncio.sleep(0.005)
    # refused well within the entry's time (the clock has not moved): the initial
    # verification, the refresh's, and the refusing request's own
    assert answer == unauthorized(BAD_LOGIN)
    assert setup.passwords.verified == 3


async def test_without_a_cache_every_request_is_verified() -> None:
    setup = Setup(cache_seconds=0.0)
    await setup.account()
    for _ in range(3):
        await accepted(setup, basic("shop", PASSWORD))
    assert setup.passwords.verified == 3


# --- argon2: off the event loop, and rehashed ---------------------------------------------


async def test_verification_runs_in_a_thread_and_the_loop_goes_on() -> None:
    setup = Setup()
    account = await setup.account()
    setup.passwords.gate = threading.Event()
    pending = asyncio.create_task(setup.check(basic("shop", PASSWORD)))
    for _ in range(200):  # the verification has started, and is held
        if setup.passwords.verified:
            break
        await asyncio.sleep(0.005)
    assert setup.passwords.verified == 1
    # the event loop is free meanwhile: a key request is answered
    assert await accepted(setup, {"x-authorization-key": account.key}) == account.id
    assert not pending.done()
    setup.passwords.gate.set()
    assert isinstance(await pending, Principal)
    assert threading.get_ident() not in setup.passwords.threads


async def test_a_hash_of_older_parameters_is_replaced_on_a_successful_login() -> None:
    setup = Setup()
    account = await setup.account(login=None)
    older = PasswordHasher(time_cost=2, memory_cost=8, parallelism=1).hash(PASSWORD)
    await setup.store.set_login(account.id, "shop", older)
    assert await setup.check(basic("shop", "wrong")) == unauthorized(BAD_LOGIN)
    found = await setup.store.find_login("shop")
    assert found is not None
    assert found.password_hash == older  # a failed try changes nothing
    assert await accepted(setup, basic("shop", PASSWORD)) == account.id
    found = await setup.store.find_login("shop")
    assert found is not None
    assert found.password_hash != older
    assert "t=1," in found.password_hash  # the hasher's own parameters now
    assert not CHEAP.check_needs_rehash(found.password_hash)
    assert await accepted(setup, basic("shop", PASSWORD)) == account.id


# --- the header's parser -------------------------------------------------------------------


def test_basic_credentials_split_at_the_first_colon() -> None:
    token = base64.b64encode(b"shop:a:b:c").decode()
    assert basic_credentials(f"Basic {token}") == ("shop", "a:b:c")
    assert basic_credentials(f"basic  {token} ") == ("shop", "a:b:c")  # scheme: any case
    assert basic_credentials("Basic " + base64.b64encode(b":").decode()) == ("", "")
