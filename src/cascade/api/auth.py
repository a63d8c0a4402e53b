"""Authentication (SPEC A2): any of three headers, every one valid, all one account.

Resolved credentials are cached for a short, configurable time so the hot path does not
query the database on every request; a revoked key stops working within that time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cascade.clock import Clock
from cascade.security import hash_secret
from cascade.store import Account, AccountStore, Credential, CredentialKind

# header -> the bot channel whose bot token it carries (None: the account's API key)
HEADERS: Mapping[str, str | None] = {
    "x-authorization-key": None,
    "x-viber-auth-token": "viber_bot",
    "x-tg-bot-key": "telegram",
}

_CACHE_LIMIT = 10_000


class Unauthorized(Exception):
    """No credential, an invalid one, or credentials of different accounts."""


@dataclass(frozen=True, slots=True)
class Principal:
    account: Account
    bots: tuple[str, ...]  # the bots the credentials named, by id


class Authenticator:
    def __init__(self, store: AccountStore, clock: Clock, cache_seconds: float) -> None:
        self._store = store
        self._clock = clock
        self._ttl = cache_seconds
        self._credentials: dict[tuple[CredentialKind, str], tuple[Credential, float]] = {}
        self._accounts: dict[str, tuple[Account, float]] = {}

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

    async def _credential(self, kind: CredentialKind, secret: str) -> Credential | None:
        if not secret:
            return None
        key = (kind, hash_secret(secret))
        now = self._clock.monotonic()
        cached = self._credentials.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        credential = await self._store.find_credential(kind, key[1])
        if credential is not None and self._ttl > 0:
            if len(self._credentials) >= _CACHE_LIMIT:
                self._credentials.clear()
            self._credentials[key] = (credential, now + self._ttl)
        return credential

    async def _account(self, account_id: str) -> Account | None:
        now = self._clock.monotonic()
        cached = self._accounts.get(account_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        account = await self._store.get_account(account_id)
        if account is not None and self._ttl > 0:
            if len(self._accounts) >= _CACHE_LIMIT:
                self._accounts.clear()
            self._accounts[account_id] = (account, now + self._ttl)
        return account
