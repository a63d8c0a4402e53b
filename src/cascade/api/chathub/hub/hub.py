"""The hub: the methods clients may invoke, the connections open in this process, and
`publish`, which sends an event to every connection (in any process) allowed to see it.

The application's side is small: `register(name, handler)` for each method clients may
invoke, and `publish(event, args, audience)` for each event. Publishing goes through the
bus (cascade.api.chathub.hub.bus); what the bus delivers is offered to this process's
connections of the audience's account, and each one whose principal `sees` the audience
gets it. `dismiss(dismissal)` goes through the bus the same way and closes, in every
process, the connections whose principal is `dismissed_by` it (bus_records: both forms).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec

from cascade.api.chathub.hub import bus_records, protocol
from cascade.api.chathub.hub.bus import Bus
from cascade.api.chathub.hub.connection import (
    EXPIRED,
    INVOKER,
    SHUTDOWN,
    Connection,
    HubSettings,
    Receive,
    Send,
)
from cascade.api.chathub.hub.methods import Handler, Method
from cascade.api.chathub.hub.types import Audience, Authenticate, Dismissal, HubPrincipal
from cascade.clock import Clock

log = logging.getLogger(__name__)

# a dismissal heard is kept this long past the handshake's limit, for the connections
# authenticated before it and attached after (`attach`); and at most this many
_DISMISSALS_KEPT_S = 60.0
_DISMISSALS_KEPT = 1024


class Hub:
    def __init__(
        self,
        authenticate: Authenticate,
        bus: Bus,
        clock: Clock,
        settings: HubSettings | None = None,
    ) -> None:
        self.authenticate = authenticate
        self.clock = clock
        self.settings = settings or HubSettings()
        self._bus = bus
        self._methods: dict[str, Method] = {}
        self._by_account: dict[str, set[Connection]] = {}
        self._by_id: dict[str, Connection] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._listening: asyncio.Task[None] | None = None
        self._dismissals: deque[tuple[float, Dismissal]] = deque(maxlen=_DISMISSALS_KEPT)

    # --- the application's interface ------------------------------------------------------

    def register(self, name: str, handler: Handler) -> None:
        """Let clients invoke `name`: `handler(caller, *arguments)`, typed (see methods)."""
        if name in self._methods:
            raise ValueError(f"hub method {name!r} is already registered")
        self._methods[name] = Method.of(name, handler)

    async def publish(self, event: str, args: Sequence[Any], audience: Audience) -> None:
        """Invoke `event(*args)` on every connection, in every process, that may see it.

        `args` are encoded as JSON (msgspec: dicts, lists, Structs, dataclasses…).

        Every event announces what the store already holds, so a bus that fails is logged
        and not raised: the caller's change stands, and a client that missed the event
        reads the chat again over REST.
        """
        frame = protocol.invocation(event, [msgspec.to_builtins(a) for a in args])
        try:
            await self._bus.publish(bus_records.event(frame, audience))
        except Exception:
            log.exception("chathub: announcing %s failed; the change it announces is stored", event)

    async def dismiss(self, dismissal: Dismissal) -> None:
        """Close every connection, in every process, whose principal is `dismissed_by`
        `dismissal` (an operator deleted or moved, an account suspended: the chat code
        says whom). Like `publish`, a bus that fails is logged, not raised: the change is
        stored, and what the connections may see is checked again when they reconnect."""
        try:
            await self._bus.publish(bus_records.dismissal(dismissal))
        except Exception:
            log.exception("chathub: dismissing %s's connections failed", dismissal.account_id)

    @staticmethod
    def invoker() -> str | None:
        """In a method's handler: the id of the connection that invoked it (for an
        `Audience` that excepts it); None outside an invocation."""
        return INVOKER.get()

    # --- connections ------------------------------------------------------------------------

    @property
    def connections(self) -> int:
        return len(self._by_id)

    def is_open(self, connection_id: str) -> bool:
        return connection_id in self._by_id

    async def listen(self) -> None:
        """Start hearing the bus (once per process, when its first client connects)."""
        if self._listening is None:
            self._listening = asyncio.ensure_future(self._bus.start(self._deliver))
        try:
            await asyncio.shield(self._listening)
        except Exception:
            self._listening = None  # the next client tries again
            raise

    async def attach(self, connection: Connection, authenticated_at: float) -> None:
        """Serve a connection whose handshake succeeded until it ends.

        `authenticated_at` (`time.monotonic()`, taken before its principal was read, with
        the hub listening): a dismissal heard since then, before the connection was
        attached, may be of a change its principal was read just before; it applies.
        """
        self._by_id[connection.id] = connection
        self._by_account.setdefault(connection.principal.account_id, set()).add(connection)
        for heard_at, dismissal in list(self._dismissals):
            if heard_at >= authenticated_at and dismissal.account_id == (
                connection.principal.account_id
            ):
                self._close_if(connection, dismissal)
        expiry = self._expiry_timer(connection)
        try:
            await connection.serve()
        finally:
            if expiry is not None:
                expiry.cancel()
            self._by_id.pop(connection.id, None)
            peers = self._by_account.get(connection.principal.account_id)
            if peers is not None:
                peers.discard(connection)
                if not peers:
                    del self._by_account[connection.principal.account_id]

    def connection(
        self, connection_id: str, principal: HubPrincipal, receive: Receive, send: Send
    ) -> Connection:
        """A connection of this hub (serve it with `attach` once its handshake succeeds)."""
        return Connection(
            connection_id, principal, receive, send, self._methods, self.settings, self._spawn
        )

    def _expiry_timer(self, connection: Connection) -> asyncio.TimerHandle | None:
        expires_at_ms = connection.principal.expires_at_ms
        if expires_at_ms is None:
            return None
        delay = max(0.0, (expires_at_ms - self.clock.now_ms()) / 1000)
        return asyncio.get_running_loop().call_later(delay, _expire, connection)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _deliver(self, payload: bytes) -> None:
        found = bus_records.read(payload)
        if isinstance(found, Dismissal):
            self._dismissed(found)
        elif found is not None:
            self._offer(*found)

    def _offer(self, audience: Audience, text: str) -> None:
        for connection in list(self._by_account.get(audience.account_id, ())):
            if connection.id != audience.except_connection and _answers(
                connection, "sees", lambda p: p.sees(audience)
            ):
                connection.enqueue(text)

    def _dismissed(self, dismissal: Dismissal) -> None:
        now = time.monotonic()
        while self._dismissals and now - self._dismissals[0][0] > self._kept_s:
            self._dismissals.popleft()
        self._dismissals.append((now, dismissal))
        for connection in list(self._by_account.get(dismissal.account_id, ())):
            self._close_if(connection, dismissal)

    @property
    def _kept_s(self) -> float:
        return self.settings.handshake_timeout_s + _DISMISSALS_KEPT_S

    @staticmethod
    def _close_if(connection: Connection, dismissal: Dismissal) -> None:
        if _answers(connection, "dismissed_by", lambda p: p.dismissed_by(dismissal)):
            connection.close(dismissal.error, allow_reconnect=dismissal.allow_reconnect)

    async def close(self) -> None:
        """Close every connection (clients may reconnect: to another process) and the bus."""
        for connection in list(self._by_id.values()):
            connection.close(SHUTDOWN, allow_reconnect=True)
        for task in list(self._tasks):
            task.cancel()
        if self._listening is not None:
            with contextlib.suppress(Exception):
                await self._listening
        await self._bus.close()


def _answers(connection: Connection, asked: str, ask: Callable[[HubPrincipal], bool]) -> bool:
    """The connection's principal's answer; no when it fails to answer (logged)."""
    try:
        return ask(connection.principal)
    except Exception:
        log.exception("chathub: %s() failed for %s", asked, connection.principal.id)
        return False


def _expire(connection: Connection) -> None:
    connection.close(EXPIRED, allow_reconnect=True)
