"""Failed password sign-ins, throttled per client address and per login.

Every surface that takes an account's login and password (the console's sign-in,
ChatHub's company get-token, HTTP Basic on /bat) goes through
`Authenticator.authenticate_login`, which asks this throttle before it checks the
password and tells it of every failure. Both buckets are the shared limiter's
(`cascade.api.ratelimit`), so with Redis every API process counts into the same ones.

- Only failures are counted, per address as per login. A /bat client may sign every
  request with HTTP Basic, a hundred a second from one address; counting its successes
  would throttle it. The limiter's `peek` is what makes this possible: whether a bucket
  has room is asked before the password is checked, and a failure, known only after, is
  taken from it then.
- While either bucket is empty a sign-in is refused before its password is checked, a
  right one too: were a right password let through, a guesser held back would still
  learn it, by the one answer that differs.
- The login's bucket is keyed by a hash of the login as given, whether or not an account
  has it: a refusal says nothing of which logins exist (nor does the key, in Redis).
- A few attempts checked at the same moment may each find room before any of their
  failures is counted: the limit can be passed by the attempts in flight at once, never
  by more.
"""

from __future__ import annotations

import asyncio
import hashlib

from cascade.api.ratelimit import Limiter
from cascade.domain.ratelimit import Decision, Rate

# what each surface's 429 says, in its own error body
TOO_MANY_SIGN_INS = "Too many failed sign-ins. Please wait before trying again."


class TooManyAttempts(Exception):
    """Too many failed sign-ins from this address or for this login: 429."""

    def __init__(self, decision: Decision) -> None:
        super().__init__("too many failed sign-ins")
        self.decision = decision  # its retry_after: until the next attempt is allowed


class SignInThrottle:
    def __init__(self, limiter: Limiter, per_address: Rate, per_login: Rate) -> None:
        self._limiter = limiter
        self._per_address = per_address
        self._per_login = per_login

    async def check(self, address: str, login: str) -> None:
        """Refuse (`TooManyAttempts`) while this address or this login has no attempt left."""
        by_address, by_login = await asyncio.gather(
            self._limiter.peek(_address_key(address), self._per_address),
            self._limiter.peek(_login_key(login), self._per_login),
        )
        refused = [d for d in (by_address, by_login) if not d.allowed]
        if refused:
            raise TooManyAttempts(max(refused, key=lambda d: d.retry_after))

    async def failed(self, address: str, login: str) -> None:
        """Count a failed attempt against both."""
        await asyncio.gather(
            self._limiter.hit(_address_key(address), self._per_address),
            self._limiter.hit(_login_key(login), self._per_login),
        )


def _address_key(address: str) -> str:
    return f"sign-in-address:{address}"


def _login_key(login: str) -> str:
    digest = hashlib.sha256(login.encode("utf-8", "surrogatepass")).hexdigest()
    return f"sign-in-login:{digest}"
