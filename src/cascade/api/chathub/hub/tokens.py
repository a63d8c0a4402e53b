"""Connection tokens: what `negotiate` hands out and the WebSocket request brings back.

The WebSocket may reach another API process than the one that answered `negotiate`
(several processes behind one address, no sticky sessions), so a token is checked
without any shared state: it carries its connection id and its expiry, sealed with an
HMAC keyed by the caller's own bearer token. Only the holder of that token can make one
(and it could as well negotiate again), a token is worthless with another caller's
credentials, and a token seen nowhere in any process's memory is still recognised. One
that fails the check is "no such connection" (404), as the transport specification says.
Within one process a token opens at most one live connection at a time (409).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

LIFETIME_S = 120  # from negotiate to the WebSocket: the clients connect at once


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def new_connection_id() -> str:
    return _b64(secrets.token_bytes(16))


def _seal(bearer: str, connection_id: str, expires_s: int) -> str:
    mac = hmac.new(bearer.encode(), f"{connection_id}.{expires_s}".encode(), hashlib.sha256)
    return _b64(mac.digest())


def issue(bearer: str, connection_id: str, now_s: float) -> str:
    """A token for `connection_id`, good for `LIFETIME_S` with this bearer token.

    URL-safe as it is: the JavaScript client appends it to the URL unencoded.
    """
    expires_s = int(now_s) + LIFETIME_S
    return f"{connection_id}.{expires_s}.{_seal(bearer, connection_id, expires_s)}"


def open_token(token: str, bearer: str, now_s: float) -> str | None:
    """The connection id a valid, unexpired token names for this bearer; else None."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    connection_id, expires, mac = parts
    expires_s = int(expires)
    if expires_s < now_s:
        return None
    if not hmac.compare_digest(mac, _seal(bearer, connection_id, expires_s)):
        return None
    return connection_id
