"""The PostgreSQL bus's pieces: every NOTIFY payload under 8,000 bytes, cut between
characters, and joined back whole; and a real NOTIFY round trip of a large event."""

from __future__ import annotations

import asyncio
import logging

import pytest

from cascade.api.chathub.hub.bus import NOTIFY_LIMIT, Assembler, PgBus, pieces
from cascade.api.chathub.hub.hub import Hub
from cascade.api.chathub.hub.types import Audience
from cascade.clock import ManualClock

WAIT_S = 10.0


@pytest.mark.parametrize("text", ["", "short", "ї" * 20_000, "a€😀" * 5_000, "x" * 7_900])
def test_pieces_fit_notify_and_join_back(text: str) -> None:
    payload = text.encode()
    notices = pieces(payload)
    assert all(len(n.encode()) < NOTIFY_LIMIT for n in notices)
    assembler = Assembler()
    joined = [assembler.add(n) for n in notices]
    assert joined[:-1] == [None] * (len(notices) - 1)
    assert joined[-1] == payload
    assert assembler.pending == 0


def test_pieces_of_two_events_interleaved_join_each_whole() -> None:
    one, two = pieces(("ж" * 9_000).encode()), pieces(("щ" * 9_000).encode())
    assembler = Assembler()
    out = [assembler.add(n) for pair in zip(one, two, strict=True) for n in pair]
    assert [o for o in out if o is not None] == [("ж" * 9_000).encode(), ("щ" * 9_000).encode()]


def test_an_unfinished_event_is_dropped_after_a_while() -> None:
    now = [0.0]
    assembler = Assembler(lambda: now[0])
    assembler.add(pieces(("z" * 20_000).encode())[0])
    assert assembler.pending == 1
    now[0] = 60.0
    assert assembler.add(pieces(b"next")[0]) == b"next"
    assembler.add(pieces(("y" * 20_000).encode())[0])  # a new unfinished one drops the old
    assert assembler.pending == 1


def test_garbage_notifications_are_dropped() -> None:
    assert Assembler().add("not a piece") is None


@pytest.mark.postgres
async def test_a_large_event_crosses_postgresql_whole(pg_session_url: str) -> None:
    heard: asyncio.Queue[bytes] = asyncio.Queue()
    listener, publisher = PgBus(pg_session_url), PgBus(pg_session_url)
    await listener.start(heard.put_nowait)
    payload = ('{"message":"' + "Привіт, світе! " * 3_000 + '"}').encode()
    await publisher.publish(b"small")
    await publisher.publish(payload)
    assert await asyncio.wait_for(heard.get(), WAIT_S) == b"small"
    assert await asyncio.wait_for(heard.get(), WAIT_S) == payload
    await listener.close()
    await publisher.close()


class _DownBus:
    """A bus whose server is gone: every publish fails."""

    async def start(self, deliver: object) -> None:
        raise ConnectionError("bus down")

    async def publish(self, payload: bytes) -> None:
        raise ConnectionError("bus down")

    async def close(self) -> None:
        return None


async def test_a_bus_that_fails_is_logged_and_the_caller_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Events announce what is stored: a route whose change is committed must not answer
    500 because the announcement could not travel."""

    async def nobody(_: object) -> None:
        return None

    hub = Hub(nobody, _DownBus(), ManualClock())
    with caplog.at_level(logging.ERROR, logger="cascade.api.chathub.hub.hub"):
        await hub.publish("ChatStatusChanged", [7, 2], Audience("acct"))
    assert "announcing ChatStatusChanged failed" in caplog.text
