"""Authentication (SPEC A2): any of three headers, every one valid, all one account; and
an account's login and password (HTTP Basic on the core SMSBAT API, SPEC D2:
`cascade.api.bat_auth`).

Resolved credentials are cached for a short, configurable time so the hot path does not
query the database on every request; a revoked key stops working within that time.

A cached entry is looked up again once half its time is gone, in the background and once
for all the requests that use it, so a busy key never expires in the hot path: before,
every request in flight when an entry expired queried the database for it (32 requests
every 2 s under a 32-connection load, each through the reader pool's threads). An entry
is never used past its own time, and a look-up that finds the key gone removes it. A
request that finds no usable entry waits for the look-up already under way, if any.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from cascade.api.sign_in_throttle import SignInThrottle
from cascade.clock import Clock
from cascade.security import Passwords, hash_secret, login_problem
from cascade.store import Account, AccountStore, Credential, CredentialKind

# header -> the bot channel whose bot token it carries (None: the account's API key)
HEADERS: Mapping[str, str | None] = {
    "x-authorization-key": None,
    "x-viber-auth-token": "viber_bot",
    "x-tg-bot-key": "telegram",
}

_CACHE_LIMIT = 10_000
_REFRESH_AT = 0.5  # of the time an entry is kept: from then on it is looked up again
# argon2 verifications at once, each in a thread with 64 MiB of its own: more would only
# queue on the cores and hold the memory longer
_VERIFYING_AT_ONCE = 4

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Cache(Generic[K, V]):
    """Values by key for `ttl` seconds, each looked up at most once at a time."""

    def __init__(self, clock: Clock, ttl: float) -> None:
        self._clock = clock
        self._ttl = ttl
        self._values: dict[K, tuple[V, float, float]] = {}  # value, refresh at, expires at
        self._flights: dict[K, asyncio.Task[V | None]] = {}

    async def get(self, key: K, fetch: Callable[[], Awaitable[V | None]]) -> V | None:
        if self._ttl <= 0:
            return await fetch()
        now = self._clock.monotonic()
        cached = self._values.get(key)
        if cached is not None and cached[2] > now:
            if cached[1] <= now and key not in self._flights:
                self._start(key, fetch)
            return cached[0]
        flight = self._flights.get(key) or self._start(key, fetch)
        return await asyncio.shield(flight)

    def _start(self, key: K, fetch: Callable[[], Awaitable[V | None]]) -> asyncio.Task[V | None]:
        started = self._clock.monotonic()

        async def look_up() -> V | None:
            try:
                value = await fetch()
            finally:
                del self._flights[key]
            if value is None:
                self._values.pop(key, None)
                return None
            if len(self._values) >= _CACHE_LIMIT:
                self._values.clear()
            refresh = started + self._ttl * _REFRESH_AT
            self._values[key] = (value, refresh, started + self._ttl)
            return value

        task = asyncio.get_running_loop().create_task(look_up())
        task.add_done_callback(_quiet)
        self._flights[key] = task
        return task


def _quiet(task: asyncio.Task[object]) -> None:
    """A look-up that failed. Its waiters, if any, were answered with the failure; a
    background one leaves the entry until its time is up, and the request after that
    looks it up in the foreground, where a failure is answered."""
    if not task.cancelled() and task.exception() is not None:
        log.debug("credential look-up failed", exc_info=task.exception())


class Unauthorized(Exception):
    """No credential, an invalid one, or credentials of different accounts."""


@dataclass(frozen=True, slots=True)
class Principal:
    account: Account
    bots: tuple[str, ...]  # the bots the credentials named, by id


class Authenticator:
    def __init__(
        self,
        store: AccountStore,
        clock: Clock,
        cache_seconds: float,
        passwords: Passwords | None = None,
        throttle: SignInThrottle | None = None,
    ) -> None:
        """`throttle` holds back failed sign-ins with a password (None: an authenticator
        of keys only, or a test's)."""
        self._store = store
        self._throttle = throttle
        self._credentials: _Cache[tuple[CredentialKind, str], Credential] = _Cache(
            clock, cache_seconds
        )
        self._accounts: _Cache[str, Account] = _Cache(clock, cache_seconds)
        # (login, password) -> the account id, for `cache_seconds`: a client that signs
        # 100 requests/s with HTTP Basic costs one argon2 verification per half that time,
        # not 100 a second. The key is an HMAC of both under a secret of this process, so
        # the cache holds nothing a password could be guessed from offline. A wrong
        # password is never kept (a look-up that finds nothing is not cached). A password
        # changed stops working within `cache_seconds`: the entry of the old one is
        # verified again from half its time on, against the new hash, which fails and
        # ends the entry; it is never used past its time either way.
        self._logins: _Cache[bytes, str] = _Cache(clock, cache_seconds)
        self._login_secret = secrets.token_bytes(32)
        self._passwords = passwords or Passwords()
        self._verifying = asyncio.Semaphore(_VERIFYING_AT_ONCE)

    async def authenticate(self, headers: Mapping[str, str]) -> Principal:
        account_id: str | None = None
        bots: list[str] = []
        for header, channel in HEADERS.items():
            secret = headers.get(header)
            if secret is None:
                continue
            kind = CredentialKind.API_KEY if channel is None else CredentialKind.BOT
            credential = await self._credential(kind, secret)
            if credential is None or credential.channel != channel:
                raise Unauthorized(f"invalid {header}")
            if account_id is not None and credential.account_id != account_id:
                raise Unauthorized("credentials belong to different accounts")
            account_id = credential.account_id
            if credential.bot_id is not None:
                bots.append(credential.bot_id)
        if account_id is None:
            raise Unauthorized("no credentials")
        account = await self._account(account_id)
        if account is None:
            raise Unauthorized("unknown account")
        return Principal(account, tuple(bots))

    async def authenticate_login(self, login: str, password: str, address: str) -> Principal:
        """The account of this login, if the password is its own (HTTP Basic, SPEC D2),
        signing in from the client `address`. An unknown login and a wrong password are
        refused alike, after as long. A login no account can have (a NUL, say, which no
        database text holds) is refused at once. Too many failures from the address or
        for the login are `TooManyAttempts` (`cascade.api.sign_in_throttle`)."""
        if self._throttle is None:
            return await self._login(login, password)
        await self._throttle.check(address, login)
        try:
            return await self._login(login, password)
        except Unauthorized:
            await self._throttle.failed(address, login)
            raise

    async def _login(self, login: str, password: str) -> Principal:
        if login_problem(login) is not None:
            raise Unauthorized("invalid login or password")
        name, word = (
            login.encode("utf-8", "surrogatepass"),
            password.encode("utf-8", "surrogatepass"),
        )
        entry = hmac.digest(self._login_secret, b"%d:%s%s" % (len(name), name, word), "sha256")
        account_id = await self._logins.get(entry, lambda: self._verify_login(login, password))
        if account_id is None:
            raise Unauthorized("invalid login or password")
        account = await self._account(account_id)
        if account is None:
            raise Unauthorized("unknown account")
        return Principal(account, ())

    async def _verify_login(self, login: str, password: str) -> str | None:
        found = await self._store.find_login(login)
        stored = found.password_hash if found is not None else None
        async with self._verifying:  # argon2 in a thread: the event loop goes on meanwhile
            verified = await asyncio.to_thread(self._passwords.verify, stored, password)
        if found is None or not verified.ok:
            return None
        if verified.rehashed is not None:  # made with older parameters: store it anew
            await self._store.replace_password_hash(login, found.password_hash, verified.rehashed)
        return found.account_id

    async def _credential(self, kind: CredentialKind, secret: str) -> Credential | None:
        if not secret:
            return None
        hashed = hash_secret(secret)
        return await self._credentials.get(
            (kind, hashed), lambda: self._store.find_credential(kind, hashed)
        )

    async def _account(self, account_id: str) -> Account | None:
        return await self._accounts.get(account_id, lambda: self._store.get_account(account_id))
