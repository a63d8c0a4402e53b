"""A body the client frames wrongly, on the real server (issue 11): 400, never a 5xx and
never the server's own words. Raw sockets, since no well-behaved client can send these."""

from __future__ import annotations

import json
import socket

import pytest

from tests.conftest import LiveServer, cascade_cli

pytestmark = pytest.mark.live

SEND = "/api/CascadeMessage/send_message/async"
MESSAGE = (
    b'[{"id": "t-1", "fromName": "Shop", "toPhone": "+380501234567",'
    b' "messageType": "transaction", "text": "Hi"}]'
)


@pytest.fixture
def key(live_server: LiveServer) -> str:
    created = json.loads(cascade_cli("accounts", "create", "acme", "--json", env=live_server.env))
    return str(created["apiKey"])


def exchange(server: LiveServer, raw: bytes, *, half_close: bool = True) -> tuple[int, bytes]:
    """Send raw bytes, half-close (the client's body ends there), read status and body."""
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(raw)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body


def request(key: str, framing: bytes, body: bytes) -> bytes:
    return (
        (
            f"POST {SEND} HTTP/1.1\r\nHost: cascade.test\r\nX-Authorization-Key: {key}\r\n"
            "Content-Type: application/json\r\nConnection: close\r\n"
        ).encode()
        + framing
        + b"\r\n"
        + body
    )


CUT_SHORT = {
    "chunk size beyond any integer": (
        b"Transfer-Encoding: chunked\r\n",
        b"FFFFFFFFFFFFFFFFFF\r\n" + MESSAGE + b"\r\n0\r\n\r\n",
    ),
    "chunk longer than announced": (
        b"Transfer-Encoding: chunked\r\n",
        b"5\r\n" + MESSAGE + b"\r\n0\r\n\r\n",
    ),
    "chunked body that never ends": (b"Transfer-Encoding: chunked\r\n", b"10\r\n" + MESSAGE[:16]),
    "content-length longer than the body": (
        f"Content-Length: {len(MESSAGE) + 100}\r\n".encode(),
        MESSAGE,
    ),
}


@pytest.mark.parametrize("case", list(CUT_SHORT))
def test_a_body_cut_short_or_misframed_is_a_400(
    live_server: LiveServer, key: str, case: str
) -> None:
    framing, body = CUT_SHORT[case]
    status, answer = exchange(live_server, request(key, framing, body))
    assert status == 400, (status, answer)
    assert json.loads(answer)["error"]["code"] == "INCOMPLETE_BODY"
    assert b"disconnected" not in answer
    assert b"INTERNAL" not in answer


def test_the_same_message_well_framed_is_accepted(live_server: LiveServer, key: str) -> None:
    chunked = f"{len(MESSAGE):X}\r\n".encode() + MESSAGE + b"\r\n0\r\n\r\n"
    framing = b"Transfer-Encoding: chunked\r\n"
    status, answer = exchange(live_server, request(key, framing, chunked), half_close=False)
    assert status == 200, answer
    assert json.loads(answer)[0]["trackinId"] == "t-1"
