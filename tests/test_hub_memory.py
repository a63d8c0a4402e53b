"""1,000 hub connections opened and closed in a loop leave no growth in the server's memory.

The hub runs under uvicorn in this process, so tracemalloc sees every allocation the
server made. After a warm-up (caches, pools, first-use imports), two measures taken over
the next 1,000 connections — each connected, handshaken, invoked once and
closed — must stay within their tolerances: what the hub's own code still holds (a leak
of one 16-byte object per connection would fail it), and everything the process still
holds (half a kB per connection would fail it).
"""

from __future__ import annotations

import asyncio
import gc
import tracemalloc

import websockets

from tests.hub_support import Caller, LiveHub, Tokens, handshake, live_hub

WARM_UP = 100
LOOPS = 1_000
# bytes still held after 1,000 connections (measured: under 1 kB and about 100 kB)
HUB_TOLERANCE = 8 * 1024  # by the hub's code: a leak of 8 bytes a connection fails
PROCESS_TOLERANCE = 512 * 1024  # by the whole process


async def cycle(hub: LiveHub, n: int) -> None:
    # without negotiate, so every request has the same URL: the framework keeps a bounded
    # cache of parsed query strings (Litestar's, 1,024 entries) that unique connection
    # tokens would fill during the measure, memory that is bounded and no leak
    ws = await websockets.connect(f"{hub.ws_url}?access_token=op")
    raw = await handshake(ws)
    reply = await raw.invoke("SendMessage", 1000 + n, "x", invocation_id=str(n))
    assert reply["invocationId"] == str(n)
    await ws.close()


async def settle(hub: LiveHub) -> None:
    """Until the server has let go of every connection (it learns of each close a moment
    after the client sent it)."""
    async with asyncio.timeout(10):
        while await asyncio.to_thread(hub.connections):  # noqa: ASYNC110 - another thread's state
            await asyncio.sleep(0.01)


def held(snapshot: tracemalloc.Snapshot, since: tracemalloc.Snapshot) -> tuple[int, int]:
    stats = snapshot.compare_to(since, "filename")
    ours = sum(s.size_diff for s in stats if "cascade/api/chathub" in str(s.traceback))
    return ours, sum(s.size_diff for s in stats)


async def test_a_thousand_connections_leave_no_growth() -> None:
    with live_hub(Tokens({"op": Caller("op", "acc", "org", "op")})) as hub:
        hub.calls.clear()
        for n in range(WARM_UP):
            await cycle(hub, n)
        tracemalloc.start(1)
        try:
            await settle(hub)
            hub.calls.clear()
            gc.collect()
            before = tracemalloc.take_snapshot()
            for n in range(LOOPS):
                await cycle(hub, n)
            await settle(hub)
            hub.calls.clear()  # the test's own record of calls, not the server's
            gc.collect()
            after = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        ours, total = held(after, before)
        assert ours < HUB_TOLERANCE, f"the hub's code holds {ours} bytes more"
        assert total < PROCESS_TOLERANCE, f"the process holds {total} bytes more"
