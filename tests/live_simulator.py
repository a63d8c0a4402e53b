"""A provider simulator and the receiving app on real loopback ports, for the simulator tests.

Two servers run in background threads (tests/threaded_server.py): the simulator, and the
receiving app that serves the channel's own webhook handler (tests/receiver.py). The real
channel talks to the simulator, the test to the simulator's admin API; loopback only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import httpx

from tests.receiver import Receiver
from tests.threaded_server import ThreadedServer


class _Closable(Protocol):
    async def aclose(self) -> None: ...


S = TypeVar("S")
C = TypeVar("C", bound=_Closable)


@dataclass
class Live(Generic[S, C]):
    sim: str  # the simulator's URL
    simulator: S
    receiver: Receiver
    admin: httpx.AsyncClient  # a client for the simulator's URL
    channel: C  # the real channel, pointed at the simulator


@contextmanager
def serving(simulator_app: Any, receiver: Receiver) -> Iterator[str]:
    """The simulator's app and the receiver's, each served for the block: the simulator's URL."""
    with ThreadedServer(simulator_app) as sim_url, ThreadedServer(receiver.app()) as receiver_url:
        receiver.url = receiver_url
        yield sim_url


@asynccontextmanager
async def live_on(
    simulator_app: Any, simulator: S, receiver: Receiver, channel_for: Callable[[str], C]
) -> AsyncIterator[Live[S, C]]:
    """Both servers up, and the channel `channel_for` makes for the simulator's URL."""
    with serving(simulator_app, receiver) as sim_url:
        async with httpx.AsyncClient(base_url=sim_url, timeout=5) as admin:
            channel = channel_for(sim_url)
            yield Live(sim_url, simulator, receiver, admin, channel)
            await channel.aclose()


async def wait_for(predicate: Callable[[], bool]) -> None:
    """Poll until `predicate` holds; fail after 30 seconds (a slow machine is no failure)."""
    async with asyncio.timeout(30):
        while not predicate():  # noqa: ASYNC110 - the events arrive on another thread
            await asyncio.sleep(0.02)


async def script(live: Live[Any, Any], phone: str, **behaviour: Any) -> None:
    """Give `phone` a scripted behaviour on the simulator."""
    response = await live.admin.put(f"/_sim/script/{phone}", json=behaviour)
    assert response.status_code == 200
