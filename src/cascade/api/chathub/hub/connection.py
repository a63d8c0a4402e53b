"""One hub connection over an accepted WebSocket: the handshake, then two loops.

The reader takes the client's records and answers them; the writer sends what is queued
for the client, and a Ping whenever `keepalive_s` passes with nothing sent. A client
that sends nothing (not even its own pings) for `client_timeout_s` is closed, as is one
whose credential expires, who breaks the protocol, or whom the application dismisses
(`Hub.dismiss`); each close is a Close message with its error, then the WebSocket close.
Invocations run as tasks of their own (at most `max_parallel_invocations` at once per
connection), so a slow method never holds up the client's pings or its other calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import msgspec

from cascade.api.chathub.hub import protocol
from cascade.api.chathub.hub.methods import BadArguments, Method
from cascade.api.chathub.hub.protocol import MessageType, ProtocolError
from cascade.api.chathub.hub.types import HubError, HubPrincipal

log = logging.getLogger(__name__)

Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Any], Awaitable[None]]  # an ASGI send: it takes the event TypedDicts

EXPIRED = "The access token has expired"
TIMED_OUT = "Server timeout elapsed without receiving a message from the client."
TOO_SLOW = "The client did not read its messages fast enough"
SHUTDOWN = "The server is shutting down"
_REFUSED_STREAMS_KEPT = 64

# the connection whose invocation is running: each invocation runs in a task of its own,
# which sets it (`Hub.invoker`)
INVOKER: ContextVar[str | None] = ContextVar("chathub_invoker", default=None)


@dataclass(frozen=True, slots=True)
class HubSettings:
    keepalive_s: float = 15.0  # the official clients expect a message within 30 s
    client_timeout_s: float = 30.0  # they ping every 15 s
    handshake_timeout_s: float = 15.0
    max_message_bytes: int = 8 * 1024 * 1024  # a SendMediaMessage carries its file
    max_parallel_invocations: int = 8
    outbox_limit: int = 2048  # messages queued for one client before it is cut off
    close_flush_s: float = 5.0  # for the Close message to leave before the socket closes


class _Closing:
    """The writer's last item: send the WebSocket close, then stop."""


_CLOSE = _Closing()


class Connection:
    __slots__ = (
        "_closing",
        "_methods",
        "_outbox",
        "_ready",
        "_records",
        "_refused_streams",
        "_running",
        "_settings",
        "_spawn",
        "id",
        "principal",
        "receive",
        "send",
    )

    def __init__(
        self,
        connection_id: str,
        principal: HubPrincipal,
        receive: Receive,
        send: Send,
        methods: Mapping[str, Method],
        settings: HubSettings,
        spawn: Callable[[Awaitable[None]], None],
    ) -> None:
        self.id = connection_id
        self.principal = principal
        self.receive = receive
        self.send = send
        self._methods = methods
        self._settings = settings
        self._spawn = spawn
        self._outbox: deque[str | _Closing] = deque()
        self._ready = asyncio.Event()
        self._closing = False
        self._running = 0
        self._refused_streams: deque[str] = deque(maxlen=_REFUSED_STREAMS_KEPT)
        self._records = protocol.Records(settings.max_message_bytes)

    # --- what the hub calls ---------------------------------------------------------------

    def enqueue(self, frame: str) -> None:
        """Queue one encoded message for the client (a published event)."""
        if self._closing:
            return
        if len(self._outbox) >= self._settings.outbox_limit:
            log.warning("chathub: connection %s cut off: too slow to read", self.id)
            self._outbox.clear()
            self.close(TOO_SLOW, allow_reconnect=True)
            return
        self._outbox.append(frame)
        self._ready.set()

    def close(self, error: str | None = None, *, allow_reconnect: bool = False) -> None:
        """Send a Close message (with `error`, if any) and end the connection."""
        if self._closing:
            return
        self._closing = True
        self._outbox.append(protocol.close(error, allow_reconnect=allow_reconnect).decode())
        self._outbox.append(_CLOSE)
        self._ready.set()

    async def handshake(self) -> bool:
        """Read the client's HandshakeRequest and answer it; whether it succeeded.

        Records that came in the handshake's frame after it are processed at once.
        """
        records = self._records
        pending: list[bytes] = []
        try:
            async with asyncio.timeout(self._settings.handshake_timeout_s):
                while not pending:
                    data = await self._read()
                    if data is None:
                        return False
                    pending = records.feed(data)
        except TimeoutError:
            await self._send_raw(protocol.handshake_error("Handshake was not completed in time"))
            await self._close_socket()
            return False
        except ProtocolError as err:
            await self._send_raw(protocol.handshake_error(str(err)))
            await self._close_socket()
            return False
        error = protocol.check_handshake(pending[0])
        if error is not None:
            await self._send_raw(protocol.handshake_error(error))
            await self._close_socket()
            return False
        await self._send_raw(protocol.HANDSHAKE_OK)
        try:
            for record in pending[1:]:
                self._handle(record)
        except ProtocolError as err:
            self.close(str(err))
        return True

    async def serve(self) -> None:
        """Run until the client leaves or the connection is closed."""
        writer = asyncio.create_task(self._write())
        reader = asyncio.create_task(self._read_loop())
        try:
            await asyncio.wait({writer, reader}, return_when=asyncio.FIRST_COMPLETED)
            if not writer.done() and self._closing:  # let its Close message leave
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(writer), self._settings.close_flush_s)
        finally:
            for task in (writer, reader):
                task.cancel()
            for task in (writer, reader):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self._closing = True
            self._outbox.clear()

    # --- the two loops --------------------------------------------------------------------

    async def _write(self) -> None:
        keepalive = self._settings.keepalive_s
        while True:
            if not self._outbox:
                self._ready.clear()
                try:
                    await asyncio.wait_for(self._ready.wait(), keepalive)
                except TimeoutError:
                    await self._send_text(protocol.PING.decode())
                    continue
            item = self._outbox.popleft()
            if isinstance(item, _Closing):
                await self._close_socket()
                return
            await self._send_text(item)

    async def _read_loop(self) -> None:
        while not self._closing:
            try:
                data = await asyncio.wait_for(self._read(), self._settings.client_timeout_s)
                if data is None:
                    return
                for record in self._records.feed(data):
                    self._handle(record)
            except TimeoutError:
                self.close(TIMED_OUT)
                return
            except ProtocolError as err:
                self.close(str(err))
                return

    # --- the client's messages --------------------------------------------------------------

    def _handle(self, record: bytes) -> None:
        message = protocol.decode_record(record)
        kind = message.get("type")
        if kind == MessageType.INVOCATION:
            self._invoke(message)
        elif kind == MessageType.STREAM_INVOCATION:
            invocation_id = _invocation_id(message, required=True)
            if invocation_id is not None:
                self._complete(
                    invocation_id, error="Streaming methods are not supported by this hub"
                )
        elif kind in (MessageType.STREAM_ITEM, MessageType.COMPLETION):
            # only the items of an upload stream this hub already refused may come here
            invocation_id = _invocation_id(message, required=True)
            if invocation_id not in self._refused_streams:
                raise ProtocolError(
                    "Unexpected stream item or completion: this hub accepts no streams"
                )
        elif kind == MessageType.CANCEL_INVOCATION:
            # no streams; a running invocation still ends with its Completion (the spec
            # lets the callee finish it), so there is nothing to cancel
            _invocation_id(message, required=True)
        elif kind == MessageType.PING:
            pass
        elif kind == MessageType.CLOSE:
            self._closing = True  # the client is leaving: nothing more to send it
            self._outbox.clear()
            self._outbox.append(_CLOSE)
            self._ready.set()
        elif kind in (MessageType.ACK, MessageType.SEQUENCE):
            raise ProtocolError("Stateful reconnect was not negotiated")
        else:
            raise ProtocolError(f"Unknown message type {kind!r}")

    def _invoke(self, message: dict[str, Any]) -> None:
        invocation_id = _invocation_id(message, required=False)
        target = message.get("target")
        arguments = message.get("arguments", [])
        if not isinstance(target, str) or not isinstance(arguments, list):
            raise ProtocolError("An invocation needs a 'target' string and an 'arguments' array")
        streams = message.get("streamIds")
        if streams:
            if not isinstance(streams, list) or not all(isinstance(s, str) for s in streams):
                raise ProtocolError("'streamIds' must be an array of strings")
            self._refused_streams.extend(streams)
            if invocation_id is not None:
                self._complete(
                    invocation_id, error="Client-to-server streaming is not supported by this hub"
                )
            return
        method = self._methods.get(target)
        if method is None:
            if invocation_id is not None:
                self._complete(invocation_id, error=f"Unknown hub method '{target}'")
            return
        try:
            bound = method.bind(arguments)
        except BadArguments as err:
            if invocation_id is not None:
                self._complete(invocation_id, error=str(err))
            return
        if self._running >= self._settings.max_parallel_invocations:
            if invocation_id is not None:
                self._complete(
                    invocation_id,
                    error=f"Too many invocations in progress (at most "
                    f"{self._settings.max_parallel_invocations} at once)",
                )
            return
        self._running += 1
        self._spawn(self._run(method, bound, invocation_id))

    async def _run(self, method: Method, arguments: list[Any], invocation_id: str | None) -> None:
        INVOKER.set(self.id)  # this invocation's own task: set for it alone
        try:
            result = await method.handler(self.principal, *arguments)
            if invocation_id is not None:
                self._complete(invocation_id, result=msgspec.to_builtins(result))
        except HubError as err:
            if invocation_id is not None:
                self._complete(invocation_id, error=str(err))
        except Exception:
            log.exception("chathub: %s failed for %s", method.name, self.principal.id)
            if invocation_id is not None:
                self._complete(
                    invocation_id,
                    error=f"An unexpected error occurred invoking '{method.name}' on the server.",
                )
        finally:
            self._running -= 1

    def _complete(
        self, invocation_id: str, *, result: Any = None, error: str | None = None
    ) -> None:
        self.enqueue(protocol.completion(invocation_id, result=result, error=error).decode())

    # --- the socket -------------------------------------------------------------------------

    async def _read(self) -> bytes | None:
        """The next frame's data; None when the client has gone."""
        while True:
            event = await self.receive()
            kind = event["type"]
            if kind == "websocket.disconnect":
                return None
            if kind != "websocket.receive":
                continue
            text = event.get("text")
            if text is not None:
                data: bytes = text.encode()
            else:
                data = event.get("bytes") or b""
            if len(data) > self._settings.max_message_bytes:
                raise protocol.TooLarge(
                    f"A message exceeded the maximum size of {self._settings.max_message_bytes}"
                    " bytes"
                )
            return data

    async def _send_text(self, text: str) -> None:
        await self.send({"type": "websocket.send", "text": text})

    async def _send_raw(self, frame: bytes) -> None:
        with contextlib.suppress(Exception):
            await self._send_text(frame.decode())

    async def _close_socket(self) -> None:
        with contextlib.suppress(Exception):
            await self.send({"type": "websocket.close", "code": 1000, "reason": ""})


def _invocation_id(message: dict[str, Any], *, required: bool) -> str | None:
    value = message.get("invocationId")
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise ProtocolError("'invocationId' must be a string")
    return value
