"""Fan-out between API processes: an event published on one reaches every process's hub.

Three buses, one interface. Every process delivers what it publishes through the bus too
(it hears its own notifications), so each event reaches each connection exactly once,
whichever process published it.

- `LocalBus`: one process (the SQLite default, `cascade up`): delivered in process.
- `PgBus`: PostgreSQL LISTEN/NOTIFY on `PG_CHANNEL`, the engine's approach (one listening
  connection per process) on a channel of its own. NOTIFY takes payloads under 8,000
  bytes, so an event is cut into pieces at UTF-8 character boundaries, each
  `id:index:count:` followed by its text, all NOTIFYed in one transaction: PostgreSQL
  delivers a transaction's notifications together, in order, or not at all, and the
  listener joins them again.
- `RedisBus`: Redis pub/sub on `REDIS_CHANNEL` when `CASCADE_REDIS_URL` is set (the rate
  limiter's Redis); it has no such size limit.

Events are live notices, not the record: the store holds every message, and an operator
who was cut off reads them again over REST. So a bus that cannot publish logs the failure
instead of failing the request that caused the event, and a listener that loses its
connection reconnects with backoff (what was published meanwhile is not replayed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)

Deliver = Callable[[bytes], None]

PG_CHANNEL = "cascade_chathub"
REDIS_CHANNEL = "cascade:chathub"

NOTIFY_LIMIT = 8000  # bytes, PostgreSQL's limit on a NOTIFY payload (it must be shorter)
_PIECE = NOTIFY_LIMIT - 100  # room for the piece's header
_ASSEMBLY_S = 30.0  # an unfinished event older than this is dropped (its listener lost some)
_ASSEMBLING_LIMIT = 1024
_BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)


class Bus(Protocol):
    async def start(self, deliver: Deliver) -> None:
        """Begin delivering every published payload to `deliver`; listening on return."""

    async def publish(self, payload: bytes) -> None: ...

    async def close(self) -> None: ...


class LocalBus:
    """One process: what is published is delivered here, at once."""

    def __init__(self) -> None:
        self._deliver: Deliver | None = None

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def publish(self, payload: bytes) -> None:
        if self._deliver is not None:
            self._deliver(payload)

    async def close(self) -> None:
        self._deliver = None


# --- PostgreSQL -------------------------------------------------------------------------


def pieces(payload: bytes, size: int = _PIECE) -> list[str]:
    """`payload` (UTF-8 text) as NOTIFY payloads of at most `size` bytes of text each,
    cut between characters, each headed `id:index:count:`."""
    chunks: list[bytes] = []
    start = 0
    while start < len(payload):
        end = min(start + size, len(payload))
        while end < len(payload) and payload[end] & 0xC0 == 0x80:  # inside a character
            end -= 1
        chunks.append(payload[start:end])
        start = end
    chunks = chunks or [b""]
    event_id = secrets.token_hex(8)
    return [f"{event_id}:{i}:{len(chunks)}:{c.decode()}" for i, c in enumerate(chunks)]


class Assembler:
    """Joins the pieces of each event as they arrive; whole events come out."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._parts: dict[str, tuple[float, list[str | None]]] = {}
        self._monotonic = monotonic

    def add(self, piece: str) -> bytes | None:
        try:
            event_id, index_s, count_s, text = piece.split(":", 3)
            index, count = int(index_s), int(count_s)
        except ValueError:
            log.warning("chathub bus: a notification that is no event piece was dropped")
            return None
        if count == 1:
            return text.encode()
        if not 0 <= index < count:
            return None
        now = self._monotonic()
        if event_id not in self._parts:
            self._drop_stale(now)
            self._parts[event_id] = (now, [None] * count)
        got = self._parts[event_id][1]
        if len(got) != count:
            return None
        got[index] = text
        if any(part is None for part in got):
            return None
        del self._parts[event_id]
        return "".join(part or "" for part in got).encode()

    def _drop_stale(self, now: float) -> None:
        stale = [k for k, (began, _) in self._parts.items() if now - began > _ASSEMBLY_S]
        for key in stale:
            del self._parts[key]
        if len(self._parts) >= _ASSEMBLING_LIMIT:
            self._parts.clear()

    @property
    def pending(self) -> int:
        return len(self._parts)


def _asyncpg_url(database_url: str) -> str:
    """A SQLAlchemy URL (postgresql+asyncpg://…) as asyncpg takes it."""
    return "postgresql://" + database_url.split("://", 1)[1]


class PgBus:
    def __init__(self, database_url: str) -> None:
        self._url = _asyncpg_url(database_url)
        self._deliver: Deliver | None = None
        self._assembler = Assembler()
        self._listener: Any = None
        self._publisher: Any = None
        self._publish_lock = asyncio.Lock()
        self._reconnecting: asyncio.Task[None] | None = None
        self._closed = False

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver
        await self._listen()

    async def _listen(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self._url)
        await conn.add_listener(PG_CHANNEL, self._notified)
        conn.add_termination_listener(self._lost)
        self._listener = conn

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        event = self._assembler.add(payload)
        if event is not None and self._deliver is not None:
            self._deliver(event)

    def _lost(self, _conn: object) -> None:
        if self._closed or self._reconnecting is not None:
            return
        log.warning("chathub bus: the LISTEN connection to PostgreSQL was lost; reconnecting")
        self._reconnecting = asyncio.get_running_loop().create_task(self._relisten())

    async def _relisten(self) -> None:
        try:
            for attempt in range(10_000):
                await asyncio.sleep(_BACKOFF_S[min(attempt, len(_BACKOFF_S) - 1)])
                if self._closed:
                    return
                try:
                    await self._listen()
                except Exception:  # the database is still away: try again
                    log.debug("chathub bus: LISTEN reconnect failed", exc_info=True)
                    continue
                log.info("chathub bus: listening on PostgreSQL again")
                return
        finally:
            self._reconnecting = None

    async def publish(self, payload: bytes) -> None:
        notices = pieces(payload)
        async with self._publish_lock:
            for attempt in (1, 2):  # a connection the database dropped is made again once
                try:
                    if self._publisher is None or self._publisher.is_closed():
                        import asyncpg

                        self._publisher = await asyncpg.connect(self._url)
                    async with self._publisher.transaction():
                        await self._publisher.executemany(
                            "SELECT pg_notify($1, $2)", [(PG_CHANNEL, n) for n in notices]
                        )
                    return
                except Exception:
                    await self._drop_publisher()
                    if attempt == 2:
                        log.warning("chathub bus: NOTIFY failed; event dropped", exc_info=True)

    async def _drop_publisher(self) -> None:
        if self._publisher is not None:
            with contextlib.suppress(Exception):
                await self._publisher.close()
            self._publisher = None

    async def close(self) -> None:
        self._closed = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None
        async with self._publish_lock:
            await self._drop_publisher()


# --- Redis ------------------------------------------------------------------------------


class RedisBus:
    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis

        self._redis: Redis = Redis.from_url(url)
        self._deliver: Deliver | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver
        pubsub = await self._subscribe()
        self._task = asyncio.get_running_loop().create_task(self._listen(pubsub))

    async def _subscribe(self) -> Any:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=False)
        await pubsub.subscribe(REDIS_CHANNEL)
        while True:  # subscribed once Redis confirms it: then nothing published is missed
            message = await pubsub.get_message(timeout=5.0)
            if message is None:
                raise ConnectionError("Redis did not confirm the subscription")
            if message["type"] == "subscribe":
                return pubsub

    async def _listen(self, pubsub: Any) -> None:
        attempt = 0
        while True:
            try:
                async for message in pubsub.listen():
                    attempt = 0
                    if message["type"] == "message" and self._deliver is not None:
                        self._deliver(message["data"])
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                raise
            except Exception:
                log.warning("chathub bus: Redis subscription lost; resubscribing", exc_info=True)
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            while True:
                await asyncio.sleep(_BACKOFF_S[min(attempt, len(_BACKOFF_S) - 1)])
                attempt += 1
                try:
                    pubsub = await self._subscribe()
                    break
                except Exception:
                    log.debug("chathub bus: Redis resubscribe failed", exc_info=True)

    async def publish(self, payload: bytes) -> None:
        try:
            await self._redis.publish(REDIS_CHANNEL, payload)
        except Exception:
            log.warning("chathub bus: Redis PUBLISH failed; event dropped", exc_info=True)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        await self._redis.aclose()
