"""A simulator's webhook calls: a burst waits its turn outside httpx's connection pool."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
from aiohttp import web

from cascade.simulators.webhook_caller import POSTS_IN_FLIGHT, WebhookCaller, WebhookFailed


async def test_a_burst_of_webhook_posts_keeps_a_bounded_number_in_flight() -> None:
    in_flight = most = 0
    bodies: list[bytes] = []

    async def receiver(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.001)
        bodies.append(request.content)
        in_flight -= 1
        return httpx.Response(200)

    caller = WebhookCaller(httpx.AsyncClient(transport=httpx.MockTransport(receiver)))
    await caller.start()
    try:
        answers = await asyncio.gather(
            *(caller.post("http://hook/", f"{n}", {"X-N": str(n)}) for n in range(500))
        )
    finally:
        await caller.stop()
        assert caller.callback_client is not None
        await caller.callback_client.aclose()
    assert [a.status_code for a in answers] == [200] * 500
    assert sorted(int(b) for b in bodies) == list(range(500))  # every one arrived
    assert most == POSTS_IN_FLIGHT


async def test_posting_before_start_is_refused() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        await WebhookCaller().post("http://hook/", "x", {})


async def test_a_setup_check_does_not_wait_behind_a_burst() -> None:
    release, full = asyncio.Event(), asyncio.Event()
    checked: list[str] = []
    hanging = 0

    async def receiver(request: httpx.Request) -> httpx.Response:
        nonlocal hanging
        if request.url.path == "/check":
            checked.append(request.content.decode())
            return httpx.Response(200)
        hanging += 1
        if hanging == POSTS_IN_FLIGHT:
            full.set()
        await release.wait()  # the burst's receiver hangs
        return httpx.Response(200)

    caller = WebhookCaller(httpx.AsyncClient(transport=httpx.MockTransport(receiver)))
    await caller.start()
    try:
        burst = [
            asyncio.create_task(caller.post("http://hook/report", "r", {}))
            for _ in range(POSTS_IN_FLIGHT * 2)
        ]
        await asyncio.wait_for(full.wait(), 30)  # every slot taken, the rest queued
        assert hanging == POSTS_IN_FLIGHT
        with pytest.raises(TimeoutError):  # a queued post waits
            await asyncio.wait_for(caller.post("http://hook/check", "queued", {}), 0.2)
        check = await asyncio.wait_for(
            caller.post("http://hook/check", "at once", {}, queued=False), 5
        )
        release.set()
        await asyncio.gather(*burst)
    finally:
        await caller.stop()
        assert caller.callback_client is not None
        await caller.callback_client.aclose()
    assert check.status_code == 200
    assert checked == ["at once"]


# --- the simulators' own client (aiohttp), against a loopback server --------------------------


async def test_the_own_client_posts_and_reads_the_answer() -> None:
    got: list[tuple[str, str, bytes]] = []

    async def hook(request: web.Request) -> web.Response:
        headers = request.headers
        got.append((headers.get("Content-Type", ""), headers.get("X-N", ""), await request.read()))
        return web.Response(status=202, text="taken ✓")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    caller = WebhookCaller()
    await caller.start()
    try:
        answer = await caller.post(
            f"http://127.0.0.1:{port}/hook", "a=1", {"Content-Type": "text/x", "X-N": "7"}
        )
        direct = await caller.post(f"http://127.0.0.1:{port}/hook", b"b", {}, queued=False)
    finally:
        await caller.stop()
        await runner.cleanup()
    assert (answer.status_code, answer.text) == (202, "taken ✓")
    assert direct.status_code == 202
    assert got[0] == ("text/x", "7", b"a=1")
    assert got[1][2] == b"b"


async def test_a_webhook_nobody_listens_on_fails_the_post() -> None:
    with socket.socket() as probe:  # a loopback port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    caller = WebhookCaller()
    await caller.start()
    try:
        with pytest.raises(WebhookFailed, match="Client"):
            await caller.post(f"http://127.0.0.1:{port}/hook", b"x", {})
    finally:
        await caller.stop()


async def test_a_given_client_that_cannot_connect_fails_the_post_alike() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    caller = WebhookCaller(httpx.AsyncClient(transport=httpx.MockTransport(refuse)))
    await caller.start()
    try:
        with pytest.raises(WebhookFailed, match="ConnectError"):
            await caller.post("http://hook/", b"x", {})
    finally:
        await caller.stop()
        assert caller.callback_client is not None
        await caller.callback_client.aclose()
