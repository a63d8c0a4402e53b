"""The aiohttp-backed transport keeps the failure meanings at-most-once relies on."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from cascade.channels.http import transport_outcome
from cascade.channels.transport import provider_client
from cascade.domain.sending import InDoubt, Retry


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_refused_connection_is_safe_to_repeat() -> None:
    async with provider_client() as client:
        with pytest.raises(httpx.ConnectError) as caught:
            await client.post(f"http://127.0.0.1:{closed_port()}/x", content=b"{}")
    assert isinstance(transport_outcome(caught.value), Retry)


async def test_a_connection_cut_after_the_request_is_in_doubt() -> None:
    received = asyncio.Event()

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")  # the request arrived ...
        received.set()
        writer.close()  # ... and no answer ever comes

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with provider_client() as client:
            with pytest.raises(httpx.HTTPError) as caught:
                await client.post(f"http://127.0.0.1:{port}/x", content=b"{}")
        assert received.is_set()
        assert isinstance(transport_outcome(caught.value), InDoubt)
    finally:
        server.close()
        await server.wait_closed()


async def test_answers_come_back_whole() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(
            next(
                line.split(b":")[1]
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
        )
        body = await reader.readexactly(length)
        reply = b'{"echo":' + body + b"}"
        writer.write(
            b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nX-Test: yes\r\n"
            + f"Content-Length: {len(reply)}\r\n\r\n".encode()
            + reply
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with provider_client() as client:
            response = await client.post(f"http://127.0.0.1:{port}/x", json={"a": 1})
        assert response.status_code == 201
        assert response.headers["x-test"] == "yes"
        assert response.json() == {"echo": {"a": 1}}
    finally:
        server.close()
        await server.wait_closed()
