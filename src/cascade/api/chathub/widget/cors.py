"""CORS for ChatHub's surface, so the widget works inside a page of another origin.

The widget's page loads the script and its modules (module scripts are fetched in CORS
mode), calls the REST API with `Authorization: Bearer …`, and negotiates at
`/chathub/negotiate` (the SignalR client adds `X-Requested-With` and
`X-SignalR-User-Agent`, so that POST is preflighted). The WebSocket itself is outside
CORS. This middleware is mounted on ChatHub's routers only (the widget, ChatHub's REST,
the hub): the send APIs of the other surfaces stay same-origin for browsers.

Allowed origins come from `CASCADE_WIDGET_ORIGINS`: `*` (the default) or a list of
`scheme://host[:port]`. The trade-off of `*`: credentials here are bearer tokens that a
page must hold and send itself, never cookies (no `Access-Control-Allow-Credentials`,
and the widget's SignalR client is told not to send cookies), so a hostile page gains
nothing it could not do with a token it already has; a leaked operator token is usable
from anywhere either way. What `*` gives up is a second fence: with a list, a token
pasted into some other site's page is refused by the browsers of that site's visitors,
and an installation that embeds the widget in one portal should name it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

ANY = "*"
METHODS = "GET, POST, PUT, DELETE"
HEADERS = "Authorization, Content-Type, Accept, X-Requested-With, X-SignalR-User-Agent"
MAX_AGE_S = "600"  # browsers cap it lower anyway (Chromium: 2 hours)
EXPOSE = "Retry-After, ETag"


def parse_origins(raw: str) -> frozenset[str] | None:
    """`CASCADE_WIDGET_ORIGINS` → the allowed origins; None for any. A value that is not an
    origin (a path, no scheme, a wildcard inside a name) is a startup error."""
    parts = [p.strip().rstrip("/") for p in raw.replace(",", " ").split()]
    if not parts or parts == [ANY]:
        return None
    origins: set[str] = set()
    for part in parts:
        split = urlsplit(part)
        if (
            split.scheme not in ("http", "https")
            or not split.hostname
            or split.path
            or split.query
            or split.fragment
            or split.username is not None
            or "*" in part
        ):
            raise ValueError(
                f"CASCADE_WIDGET_ORIGINS: {part!r} is not an origin (scheme://host[:port])"
            )
        origins.add(f"{split.scheme}://{split.netloc.lower()}")
    return frozenset(origins)


@dataclass(frozen=True, slots=True)
class CorsPolicy:
    """Which origins may call; a Litestar middleware factory (`middleware=[policy]`)."""

    origins: frozenset[str] | None = None  # None: any

    @classmethod
    def of(cls, raw: str) -> CorsPolicy:
        return cls(parse_origins(raw))

    def allows(self, origin: str) -> bool:
        return self.origins is None or origin.lower() in self.origins

    def __call__(self, app: ASGIApp) -> ASGIApp:
        return _Cors(app, self)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class _Cors:
    def __init__(self, app: ASGIApp, policy: CorsPolicy) -> None:
        self.app = app
        self.policy = policy

    def _allow(self, origin: str | None) -> list[tuple[bytes, bytes]]:
        """The headers that let `origin` read the answer (none for a refused one); `Vary`
        whenever the answer depends on the origin, so shared caches keep them apart."""
        if self.policy.origins is None:
            return [(b"access-control-allow-origin", b"*")] if origin else []
        vary = [(b"vary", b"Origin")]
        if origin and self.policy.allows(origin):
            return [(b"access-control-allow-origin", origin.encode("latin-1")), *vary]
        return vary

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:  # the WebSocket is outside CORS
            await self.app(scope, receive, send)
            return
        origin = _header(scope, b"origin")
        asked = _header(scope, b"access-control-request-method")
        if scope.get("method") == "OPTIONS" and origin and asked:
            await self._preflight(origin, send)
            return
        added = self._allow(origin)
        if not added:
            await self.app(scope, receive, send)
            return
        if origin and self.policy.allows(origin):
            added.append((b"access-control-expose-headers", EXPOSE.encode()))

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _merge(message.get("headers", ()), added)
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, origin: str, send: Send) -> None:
        headers = self._allow(origin)
        allowed = self.policy.allows(origin)
        if allowed:
            headers += [
                (b"access-control-allow-methods", METHODS.encode()),
                (b"access-control-allow-headers", HEADERS.encode()),
                (b"access-control-max-age", MAX_AGE_S.encode()),
            ]
        headers.append((b"content-length", b"0"))
        await send(
            {"type": "http.response.start", "status": 204 if allowed else 403, "headers": headers}
        )
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def _merge(
    existing: Iterable[tuple[bytes, bytes]], added: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """The response's headers with ours; an existing `Vary` is extended, not doubled."""
    headers = list(existing)
    for name, value in added:
        if name == b"vary":
            for i, (key, old) in enumerate(headers):
                if key.lower() == b"vary":
                    if value.lower() not in old.lower():
                        headers[i] = (key, old + b", " + value)
                    break
            else:
                headers.append((name, value))
        else:
            headers.append((name, value))
    return headers
