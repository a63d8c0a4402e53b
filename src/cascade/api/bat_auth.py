"""Who a request to the core SMSBAT API (`/bat/…`) is: SPEC D2.

Any of three ways:

- HTTP Basic with a login of the account and its password (`cascade accounts login`);
- the header `X-Authorization-Key: <api key>`;
- HTTP Basic with the user `@` and the API key as the password.

Keys and logins are resolved by the Cascade API's `Authenticator` (`cascade.api.auth`):
the one key look-up, its cache, and the cached argon2 verification of logins. A request
that carries both a key header and Basic is accepted only if both are valid and name one
account, as SPEC A2 asks of the Cascade API's headers. Anything else is 401; an account
that is suspended, however it authenticated, 403; too many failed sign-ins with a login
and password from the client's address or for the login, 429 with `Retry-After`
(`cascade.api.sign_in_throttle`). A refusal is SPEC D6's body without a `code` (D6's
numeric codes are those of the request's rules).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus

from cascade.api.auth import Authenticator, Principal, Unauthorized
from cascade.api.ratelimit import retry_after_header
from cascade.api.sign_in_throttle import TOO_MANY_SIGN_INS, TooManyAttempts
from cascade.security import API_KEY_USER

_KEY_HEADER = "x-authorization-key"
# RFC 7617: a 401 names the scheme it wants, and that credentials are UTF-8
CHALLENGE = 'Basic realm="cascade", charset="UTF-8"'

NO_CREDENTIALS = (
    "Authentication required: HTTP Basic with a login and password, HTTP Basic with "
    "user '@' and an API key, or the X-Authorization-Key header"
)
MALFORMED = "Malformed Authorization header: expected 'Basic' and base64 of login:password"
BAD_LOGIN = "Invalid login or password"  # an unknown login and a wrong password alike
BAD_KEY = "Invalid API key"
TWO_ACCOUNTS = "The credentials belong to different accounts"
SUSPENDED = "The account is suspended"


@dataclass(frozen=True, slots=True)
class AuthFailure:
    """A refused request: 401 (no valid credentials), 403 (account suspended) or 429 (too
    many failed sign-ins: `retry_after`, the Retry-After header's value)."""

    status: int
    message: str
    retry_after: str | None = None

    @property
    def error(self) -> str:
        return HTTPStatus(self.status).phrase  # "Unauthorized", "Forbidden"

    def body(self) -> dict[str, int | str]:
        """SPEC D6's error body."""
        return {"status": self.status, "error": self.error, "message": self.message}

    def headers(self) -> dict[str, str]:
        if self.retry_after is not None:
            return {"Retry-After": self.retry_after}
        return {"WWW-Authenticate": CHALLENGE} if self.status == 401 else {}


async def authenticate_bat(
    auth: Authenticator, headers: Mapping[str, str], address: str
) -> Principal | AuthFailure:
    """The request's account (as the Cascade API's `Principal`, with no bots), or why
    not. `headers` is keyed in lower case, as Litestar's `request.headers` is; `address`
    is the client's (failed sign-ins with a password are throttled by it)."""
    key = headers.get(_KEY_HEADER)
    authorization = headers.get("authorization")
    if key is None and authorization is None:
        return AuthFailure(401, NO_CREDENTIALS)
    principals: list[Principal] = []
    if key is not None:
        try:
            principals.append(await auth.authenticate({_KEY_HEADER: key}))
        except Unauthorized:
            return AuthFailure(401, BAD_KEY)
    if authorization is not None:
        credentials = basic_credentials(authorization)
        if credentials is None:
            return AuthFailure(401, MALFORMED)
        user, password = credentials
        try:
            if user == API_KEY_USER:
                principals.append(await auth.authenticate({_KEY_HEADER: password}))
            else:
                principals.append(await auth.authenticate_login(user, password, address))
        except TooManyAttempts as refused:
            return AuthFailure(429, TOO_MANY_SIGN_INS, retry_after_header(refused.decision))
        except Unauthorized:
            return AuthFailure(401, BAD_KEY if user == API_KEY_USER else BAD_LOGIN)
    if len({p.account.id for p in principals}) > 1:
        return AuthFailure(401, TWO_ACCOUNTS)
    if principals[0].account.suspended:
        return AuthFailure(403, SUSPENDED)
    return principals[0]


def basic_credentials(authorization: str) -> tuple[str, str] | None:
    """(user, password) of an `Authorization: Basic …` header (RFC 7617: base64 of
    `user:password` in UTF-8, split at the first colon), or None if it is not one."""
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # not base64, or not UTF-8
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None
