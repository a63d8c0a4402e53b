"""Status webhooks (SPEC Part C): POST every status change to the account's callback URLs.

Each body is the event as JSON with a per-message `seq`; `X-Cascade-Signature` is
`sha256=` + hex HMAC-SHA256 of the body keyed by the callback's secret. Any 2xx
acknowledges; anything else (or no answer) is retried with backoff, from the database,
so pending events survive restarts. Redirects are not followed: a 3xx is a failed
delivery like any other non-2xx (following one would let a receiver send us anywhere).

Every delivery obeys the callback URL policy (`cascade.callback_url`) on the addresses
it actually connects to: an IP literal is checked before the request, and a name is
resolved by the connection's own resolver, which checks every address and hands only
checked ones to the connection. The name stays in the Host header and the TLS SNI and
certificate check, so a receiver behind TLS or virtual hosting sees no difference, and a
name that resolved to a public address at registration but resolves inside now (DNS
rebinding) is never connected to.

A delivery the policy refuses (the name now resolves inside, or the URL breaks the rule:
one stored before the rule existed, or registered with `cascade callbacks add`, which
does not check) is logged at WARNING, with the URL's origin and the offending address but
never its path or query (where receivers put tokens), and is retried with the same
backoff as any failed delivery: a record pointing inside for a while (a rebinding attempt,
a misconfiguration) may point outside again, and the events wait for it, one try per 10
minutes at most. A production gateway would go one step further: count each callback's
consecutive failures, disable it after a day or so of refusals and show why in
`GET /api/callbacks`, so the customer learns why the webhooks stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence

import aiohttp
import msgspec
from aiohttp.abc import AbstractResolver, ResolveResult

from cascade.callback_url import (
    AddressRefused,
    CallbackUrlPolicy,
    literal_address,
    parse_callback_url,
)
from cascade.clock import Clock
from cascade.domain.errors import RequestRejected
from cascade.observer import NO_OBSERVER, Observer
from cascade.store.protocols import CallbackStore

log = logging.getLogger(__name__)

BACKOFF_BASE_MS = 1_000
BACKOFF_CAP_MS = 600_000
LEASE_MS = 30_000
TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 5.0

# what fills in a batch of bodies as they leave (the core API's `cost`: engine/webhook_cost)
Complete = Callable[[Sequence[str]], Awaitable[list[str]]]


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff_ms(tries: int) -> int:
    return int(min(BACKOFF_CAP_MS, BACKOFF_BASE_MS << min(tries, 20)))


class CheckedResolver(AbstractResolver):
    """aiohttp's resolver for callback hosts: only addresses the policy allows come out;
    AddressRefused (an OSError, so aiohttp wraps it like a lookup failure) otherwise."""

    def __init__(self, policy: CallbackUrlPolicy) -> None:
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host,
                host=str(address),
                port=port,
                family=socket.AF_INET if address.version == 4 else socket.AF_INET6,
                proto=0,
                flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
            for address in await self._policy.addresses(host, port)
        ]

    async def close(self) -> None:
        return None


def _refusal(err: BaseException) -> AddressRefused | None:
    """The policy's refusal behind a connection error, if that is what it was."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, AddressRefused):
            return seen
        if isinstance(seen, aiohttp.ClientConnectorError) and isinstance(
            seen.os_error, AddressRefused
        ):
            return seen.os_error
        seen = seen.__cause__
    return None


class CallbackDispatcher:
    def __init__(
        self,
        store: CallbackStore,
        clock: Clock,
        *,
        policy: CallbackUrlPolicy | None = None,
        batch: int = 100,
        idle_s: float = 0.2,
        timeout_s: float = TIMEOUT_S,
        tls: ssl.SSLContext | None = None,
        complete: Complete | None = None,
        observer: Observer = NO_OBSERVER,
    ) -> None:
        """`policy` defaults to the strict one (public addresses only); `tls` is the trust
        store for https receivers (default: the system's); `complete` fills in each batch
        of bodies before they are signed and sent."""
        self._store = store
        self._clock = clock
        self._policy = policy or CallbackUrlPolicy()
        self._batch = batch
        self._idle_s = idle_s
        self._timeout_s = timeout_s
        self._tls = tls
        self._complete = complete
        self._observer = observer
        self._http: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._batch,
                    resolver=CheckedResolver(self._policy),
                    ttl_dns_cache=60,  # what it caches came out of the resolver: checked
                    ssl=self._tls if self._tls is not None else True,
                ),
                timeout=aiohttp.ClientTimeout(
                    total=self._timeout_s, connect=min(CONNECT_TIMEOUT_S, self._timeout_s)
                ),
                cookie_jar=aiohttp.DummyCookieJar(),  # no receiver's cookie goes anywhere
                auto_decompress=False,
            )
        return self._http

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                done = await self.run_once()
            except Exception:
                log.exception("status webhook cycle failed")
                done = 0
            if done == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self._idle_s)

    async def run_once(self) -> int:
        now = self._clock.now_ms()
        events = await self._store.claim_callback_events(now, LEASE_MS, self._batch)
        if not events:
            return 0
        bodies = [e[3] for e in events]
        if self._complete is not None:
            bodies = await self._complete(bodies)
        results = await asyncio.gather(
            *(self._post(e[0], e[1], e[2], body) for e, body in zip(events, bodies, strict=True))
        )
        done_at = self._clock.now_ms()
        for ok in results:
            self._observer.webhook_delivery(ok)
        delivered = [e[0] for e, ok in zip(events, results, strict=True) if ok]
        retry = [
            (e[0], done_at + backoff_ms(e[4]))
            for e, ok in zip(events, results, strict=True)
            if not ok
        ]
        await self._store.finish_callback_events(delivered, retry)
        return len(events)

    async def _post(self, event_id: int, url: str, secret: str, payload: str) -> bool:
        try:
            target = parse_callback_url(url)
        except RequestRejected as err:
            log.warning(
                "status webhook event %d refused: %s", event_id, err.message, extra=_about(payload)
            )
            return False
        origin = str(target.origin())
        host = target.raw_host or ""
        body = payload.encode()
        try:
            literal = literal_address(host)
            if literal is not None:
                self._policy.check_address(host, literal)
            async with self._session().post(
                target,
                data=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Cascade-Signature": sign(secret, body),
                },
                allow_redirects=False,
            ) as response:
                status = response.status
        except (aiohttp.ClientError, OSError, TimeoutError) as err:
            refused = _refusal(err)
            if refused is not None:
                log.warning(
                    "status webhook event %d to %s refused: %s",
                    event_id,
                    origin,
                    refused.reason,
                    extra=_about(payload),
                )
            else:
                log.info(
                    "status webhook event %d: %s unreachable: %s",
                    event_id,
                    origin,
                    type(err).__name__,
                    extra=_about(payload),
                )
            return False
        return 200 <= status < 300

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()


class _Named(msgspec.Struct):
    messageId: str | None = None  # noqa: N815 - the webhook body's own name


def _about(payload: str) -> dict[str, str]:
    """The message an event's body is about, for its log lines (none: an incoming
    message's event, or a body that names none)."""
    try:
        named = msgspec.json.decode(payload, type=_Named).messageId
    except msgspec.DecodeError:
        return {}
    return {"message_id": named} if named else {}
