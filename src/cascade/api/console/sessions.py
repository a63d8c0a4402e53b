"""The console's sessions: who is signed in, in a signed, expiring cookie, and the token
every form of theirs carries (SPEC F).

A session is an HS256 JWT (PyJWT) in an HttpOnly, SameSite=Lax cookie (Secure when the
installation is served over HTTPS, or as configured), signed with the installation's
console key: CASCADE_CONSOLE_SECRET, else one generated once and kept in the database,
so every API process reads every process's sessions. Its claims: the account (none
before sign-in), the login, when it ends, and a random CSRF token. Expiry is checked
against the project's clock, so tests move time instead of waiting.

CSRF is the synchronizer-token pattern: every POST form carries the session's token,
compared in constant time with the one in the signed cookie. The token is bound to the
session: a page of another site can neither read it nor make a cookie that carries it.
Signing in issues a new session with a new token (a session fixed before sign-in is
never the signed-in one), and the sign-in form itself is covered by the token of the
anonymous session its page began.

Why not Litestar's own session and CSRF middleware: its client-side sessions expire by
the wall clock and its CSRF cookie is a double-submit token not bound to the session,
and both need their secret when the app is built, while this key is the installation's,
read from the database on first use.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any

import jwt

from cascade.api.installation_key import InstallationKey
from cascade.clock import Clock
from cascade.store.protocols import ChatStore

COOKIE = "cascade_console"
KEY_ROW = "console_session_key"  # its row in installation_secrets
AUDIENCE = "cascade-console"
MIN_SECRET_BYTES = 32
ANONYMOUS_S = 3_600  # a sign-in page's session: long enough to type a password


@dataclass(frozen=True, slots=True)
class Session:
    account_id: str | None  # None: not signed in yet (the sign-in page's session)
    login: str | None
    csrf: str
    expires_at_s: int

    @property
    def signed_in(self) -> bool:
        return self.account_id is not None

    def carries(self, token: str | None) -> bool:
        """Whether a form's token is this session's (in constant time)."""
        return token is not None and hmac.compare_digest(token.encode(), self.csrf.encode())


def secret_problem(secret: str) -> str | None:
    if len(secret.encode()) < MIN_SECRET_BYTES:
        return f"CASCADE_CONSOLE_SECRET must be at least {MIN_SECRET_BYTES} bytes"
    return None


class Sessions:
    """Issues and reads the console's session cookies."""

    def __init__(
        self,
        store: ChatStore,
        clock: Clock,
        configured_secret: str | None,
        lifetime_s: int,
        secure: bool,
    ) -> None:
        if configured_secret:
            problem = secret_problem(configured_secret)
            if problem is not None:
                raise ValueError(problem)
        if lifetime_s < 60:
            raise ValueError("a console session lasts at least a minute")
        self._clock = clock
        self._key = InstallationKey(store, KEY_ROW, configured_secret)
        self.lifetime_s = lifetime_s
        self.secure = secure

    def _now_s(self) -> int:
        return self._clock.now_ms() // 1000

    def anonymous(self) -> Session:
        return Session(None, None, secrets.token_urlsafe(32), self._now_s() + ANONYMOUS_S)

    def signed_in(self, account_id: str, login: str) -> Session:
        return Session(
            account_id, login, secrets.token_urlsafe(32), self._now_s() + self.lifetime_s
        )

    async def encode(self, session: Session) -> str:
        claims: dict[str, Any] = {
            "aud": AUDIENCE,
            "csrf": session.csrf,
            "exp": session.expires_at_s,
        }
        if session.account_id is not None:
            claims["acc"] = session.account_id
            claims["login"] = session.login
        return jwt.encode(claims, await self._key.get(), algorithm="HS256")

    async def decode(self, cookie: str | None) -> Session | None:
        """The cookie's session, or None: absent, forged, tampered with, or over."""
        if not cookie:
            return None
        try:
            claims = jwt.decode(
                cookie,
                await self._key.get(),
                algorithms=["HS256"],
                audience=AUDIENCE,
                # the expiry is checked below, on the project's clock
                options={"require": ["aud", "exp", "csrf"], "verify_exp": False},
            )
        except jwt.PyJWTError:
            return None
        expires, csrf = claims["exp"], claims["csrf"]
        account, login = claims.get("acc"), claims.get("login")
        if not isinstance(expires, int) or expires <= self._now_s():
            return None
        if not isinstance(csrf, str) or not csrf:
            return None
        if account is not None and not (isinstance(account, str) and isinstance(login, str)):
            return None
        return Session(account, login, csrf, expires)

    def cookie_attributes(self, max_age: int) -> dict[str, Any]:
        """How the cookie is set (Litestar's `Cookie` fields)."""
        return {
            "key": COOKIE,
            "path": "/console",
            "httponly": True,
            "samesite": "lax",
            "secure": self.secure,
            "max_age": max_age,
        }
