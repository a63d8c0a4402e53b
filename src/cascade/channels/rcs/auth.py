"""Service-account OAuth for the RBM API, through google-auth.

google-auth builds the JWT assertion (RS256, signed with the service account's key) and
performs the JWT bearer grant against the token endpoint. This module gives it an HTTP
transport (a synchronous httpx client, run in a worker thread so the event loop never
waits on the token endpoint) and keeps the access token until shortly before it expires.
The token endpoint is configurable, so tests and the simulator can issue tokens.

Access tokens and key material are secrets: nothing here logs them, and errors carry only
the OAuth error code, never a response body or a URL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Protocol

import google.auth.exceptions
import google.auth.transport
import httpx
from google.oauth2 import service_account

from cascade.clock import Clock, SystemClock

log = logging.getLogger(__name__)

SCOPE: Final = "https://www.googleapis.com/auth/rcsbusinessmessaging"
GOOGLE_TOKEN_URI: Final = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL

# A token is renewed this long before it expires, so it outlives the request that uses it;
# never more than half its lifetime (a short-lived token would otherwise never be reused).
REFRESH_MARGIN_S: Final = 300.0
# When the token endpoint names no lifetime, reuse the token this long.
DEFAULT_LIFETIME_S: Final = 300.0
TOKEN_TIMEOUT_S: Final = 10.0


class AuthError(Exception):
    """No access token could be had. `retryable`: the token endpoint may answer later."""

    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class TokenSource(Protocol):
    """Where the channel gets its bearer token; `invalidate` after the API answers 401."""

    async def token(self) -> str: ...
    def invalidate(self) -> None: ...


# --- google-auth's transport, over httpx ----------------------------------------------------


class _Response(google.auth.transport.Response):
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    @property
    def data(self) -> bytes:
        return self._response.content


class HttpxRequest(google.auth.transport.Request):
    """google-auth's `Request` interface on a synchronous httpx client."""

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> _Response:
        try:
            response = self._client.request(
                method,
                url,
                content=body,
                headers=dict(headers or {}),
                timeout=timeout if timeout is not None else TOKEN_TIMEOUT_S,
            )
        except httpx.HTTPError as exc:
            # never str(exc): it may quote the URL
            raise google.auth.exceptions.TransportError(  # type: ignore[no-untyped-call]
                type(exc).__name__
            ) from None
        return _Response(response)


# --- the token source -------------------------------------------------------------------------


class ServiceAccountTokens:
    """Access tokens for one service account, cached until shortly before they expire.

    Concurrent callers share one refresh. The refresh itself (signing the assertion and
    the HTTP exchange, with google-auth's own retries on 5xx) runs in a worker thread.
    """

    def __init__(
        self,
        credentials: service_account.Credentials,
        *,
        http: httpx.Client | None = None,
        clock: Clock | None = None,
        margin_s: float = REFRESH_MARGIN_S,
    ) -> None:
        self._credentials = credentials
        self._owns_http = http is None
        self._http = http if http is not None else httpx.Client(timeout=TOKEN_TIMEOUT_S)
        self._request = HttpxRequest(self._http)
        self._clock = clock if clock is not None else SystemClock()
        self._margin_s = margin_s
        self._token: str | None = None
        self._renew_at = 0.0  # on the clock's monotonic scale
        self._lock = asyncio.Lock()

    @classmethod
    def from_info(
        cls,
        info: Mapping[str, Any],
        *,
        token_uri: str | None = None,
        http: httpx.Client | None = None,
        clock: Clock | None = None,
        margin_s: float = REFRESH_MARGIN_S,
    ) -> ServiceAccountTokens:
        """From a service-account key (the JSON Google issues, parsed); `token_uri`
        overrides the key's own token endpoint."""
        values = dict(info)
        if token_uri is not None:
            values["token_uri"] = token_uri
        values.setdefault("token_uri", GOOGLE_TOKEN_URI)
        credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
            values, scopes=[SCOPE]
        )
        return cls(credentials, http=http, clock=clock, margin_s=margin_s)

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        *,
        token_uri: str | None = None,
        http: httpx.Client | None = None,
        clock: Clock | None = None,
    ) -> ServiceAccountTokens:
        import json

        info = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(info, dict):
            raise ValueError("a service-account key file holds a JSON object")
        return cls.from_info(info, token_uri=token_uri, http=http, clock=clock)

    @property
    def account(self) -> str:
        """The service account's e-mail (not a secret: it names the account)."""
        email: str = self._credentials.service_account_email
        return email

    async def token(self) -> str:
        if self._token is not None and self._clock.monotonic() < self._renew_at:
            return self._token
        async with self._lock:
            # another caller may have refreshed while this one waited
            if self._token is not None and self._clock.monotonic() < self._renew_at:
                return self._token
            token, lifetime = await asyncio.to_thread(self._refresh)
            margin = min(self._margin_s, lifetime / 2)
            self._token = token
            self._renew_at = self._clock.monotonic() + lifetime - margin
            return token

    def invalidate(self) -> None:
        self._token = None
        self._renew_at = 0.0

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def _refresh(self) -> tuple[str, float]:
        """(access token, seconds it lives); runs in a worker thread."""
        try:
            self._credentials.refresh(self._request)  # type: ignore[no-untyped-call]
        except google.auth.exceptions.RefreshError as exc:
            code = _oauth_error(exc)
            retryable = bool(getattr(exc, "retryable", False))
            log.warning("rbm token refused for %s: %s", self.account, code)
            raise AuthError(f"TOKEN_{code.upper()}", retryable=retryable) from None
        except google.auth.exceptions.TransportError as exc:
            log.warning("rbm token endpoint unreachable: %s", exc.args[0] if exc.args else "?")
            raise AuthError("TOKEN_ENDPOINT_UNREACHABLE", retryable=True) from None
        token = self._credentials.token
        if not isinstance(token, str) or not token:
            raise AuthError("TOKEN_MISSING", retryable=False)
        expiry = self._credentials.expiry
        if isinstance(expiry, dt.datetime):
            # google-auth keeps expiry as a naive UTC datetime
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            lifetime = max((expiry - now).total_seconds(), 0.0)
        else:
            lifetime = DEFAULT_LIFETIME_S
        return token, lifetime


def _oauth_error(exc: google.auth.exceptions.RefreshError) -> str:
    """The OAuth `error` code of a refused grant (`invalid_grant`…), never its body."""
    for arg in exc.args[1:]:
        if isinstance(arg, Mapping):
            code = arg.get("error")
            if isinstance(code, str) and code.replace("_", "").isalnum() and len(code) <= 40:
                return code
    return "refused"
