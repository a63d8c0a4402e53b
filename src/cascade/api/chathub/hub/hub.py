"""The hub: the methods clients may invoke, the connections open in this process, and
`publish`, which sends an event to every connection (in any process) allowed to see it.

The application's side is small: `register(name, handler)` for each method clients may
invoke, and `publish(event, args, audience)` for each event. Publishing goes through the
bus (cascade.api.chathub.hub.bus); what the bus delivers is offered to this process's
connections of the audience's account, and each one whose principal `sees` the audience
gets it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Sequence
from typing import Any

import msgspec

from cascade.api.chathub.hub import protocol
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
from cascade.api.chathub.hub.types import Audience, Authenticate, HubPrincipal
from cascade.clock import Clock

log = logging.getLogger(__name__)

_encode = msgspec.json.encode
# account, organization, operator[, the connection excepted]
_audience = msgspec.json.Decoder(list[str | None])


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
        who = [audience.account_id, audience.organization_id, audience.operator_id]
        if audience.except_connection is not None:
            who.append(audience.except_connection)
        try:
            await self._bus.publish(_encode(who) + b"\n" + frame)
        except Exception:
            log.exception("chathub: announcing %s failed; the change it announces is stored", event)

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

    async def attach(self, connection: Connection) -> None:
        """Serve a connection whose handshake succeeded until it ends."""
        self._by_id[connection.id] = connection
        self._by_account.setdefault(connection.principal.account_id, set()).add(connection)
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
        head, _, frame = payload.partition(b"\n")
        try:
            who = _audience.decode(head)
        except msgspec.DecodeError:
            who = []
        if len(who) not in (3, 4) or not isinstance(who[0], str):
            log.warning("chathub: an event with no audience was dropped")
            return
        peers = self._by_account.get(who[0])
        if not peers:
            return
        audience = Audience(who[0], *who[1:])
        text = frame.decode()
        for connection in list(peers):
            if connection.id == audience.except_connection:
                continue
            try:
                allowed = connection.principal.sees(audience)
            except Exception:
                log.exception("chathub: sees() failed for %s", connection.principal.id)
                continue
            if allowed:
                connection.enqueue(text)

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


def _expire(connection: Connection) -> None:
    connection.close(EXPIRED, allow_reconnect=True)
