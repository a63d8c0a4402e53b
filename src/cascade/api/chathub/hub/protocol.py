"""The SignalR hub protocol's JSON encoding: records, the handshake, and the messages.

Written from the protocol's published specification (dotnet/aspnetcore,
`src/SignalR/docs/specs/HubProtocol.md`). Every record, the handshake included, is one
JSON object ended by the ASCII record separator 0x1E; one WebSocket frame may carry
several records, and a record may in principle span frames, so `Records` buffers.
Pure: no I/O.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec

RS = b"\x1e"

_encode = msgspec.json.encode
_decode = msgspec.json.Decoder(dict[str, Any])


class MessageType(enum.IntEnum):
    INVOCATION = 1
    STREAM_ITEM = 2
    COMPLETION = 3
    STREAM_INVOCATION = 4
    CANCEL_INVOCATION = 5
    PING = 6
    CLOSE = 7
    ACK = 8
    SEQUENCE = 9


class ProtocolError(Exception):
    """The peer broke the protocol: the connection ends with this text as its error."""


class TooLarge(ProtocolError):
    pass


class Records:
    """Splits the bytes a peer sends into records, holding an unfinished one until its end.

    `limit` bounds one record (and so the buffer): past it the peer is cut off rather than
    let it fill the server's memory.
    """

    __slots__ = ("_held", "_limit")

    def __init__(self, limit: int) -> None:
        self._held = b""
        self._limit = limit

    def feed(self, data: bytes) -> list[bytes]:
        if self._held:
            data = self._held + data
        *done, rest = data.split(RS)
        if len(rest) > self._limit or any(len(record) > self._limit for record in done):
            raise TooLarge(f"A message exceeded the maximum size of {self._limit} bytes")
        self._held = rest
        return done


def decode_record(record: bytes) -> dict[str, Any]:
    try:
        message = _decode.decode(record)
    except msgspec.DecodeError:
        raise ProtocolError("A message was not a JSON object") from None
    return message


# --- the handshake ------------------------------------------------------------------------

PROTOCOL = "json"
VERSION = 1


def check_handshake(record: bytes) -> str | None:
    """None when the client's HandshakeRequest asks for JSON version 1; else why not."""
    try:
        request = _decode.decode(record)
    except msgspec.DecodeError:
        return "The handshake request was not a JSON object"
    protocol = request.get("protocol")
    version = request.get("version")
    if not isinstance(protocol, str) or not isinstance(version, int):
        return "The handshake request needs a 'protocol' string and a 'version' number"
    if protocol != PROTOCOL:
        return f"Requested protocol '{protocol}' is not available."
    if version != VERSION:
        return f"The server does not support version {version} of the '{protocol}' protocol."
    return None


HANDSHAKE_OK = b"{}" + RS


def handshake_error(error: str) -> bytes:
    return _encode({"error": error}) + RS


# --- server → client ------------------------------------------------------------------------

PING = _encode({"type": MessageType.PING}) + RS


def invocation(target: str, arguments: list[Any] | tuple[Any, ...]) -> bytes:
    """A non-blocking Invocation (no invocationId: the client sends nothing back)."""
    return _encode({"type": MessageType.INVOCATION, "target": target, "arguments": arguments}) + RS


def completion(invocation_id: str, *, result: Any = None, error: str | None = None) -> bytes:
    """A Completion: with `error`, or with `result` unless it is None (a void method)."""
    message: dict[str, Any] = {"type": MessageType.COMPLETION, "invocationId": invocation_id}
    if error is not None:
        message["error"] = error
    elif result is not None:
        message["result"] = result
    return _encode(message) + RS


def close(error: str | None = None, *, allow_reconnect: bool = False) -> bytes:
    message: dict[str, Any] = {"type": MessageType.CLOSE}
    if error is not None:
        message["error"] = error
    if allow_reconnect:
        message["allowReconnect"] = True
    return _encode(message) + RS
