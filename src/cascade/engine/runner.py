"""Running the engine as a process (`cascade worker`) or inside `cascade up`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from cascade.channels.base import Channel
from cascade.engine.callbacks import CallbackDispatcher
from cascade.engine.inbound import report_committer
from cascade.engine.wakeup import PgListener
from cascade.engine.worker import Worker
from cascade.store.protocols import EngineStore

log = logging.getLogger(__name__)


class Engine:
    """A worker, the status-webhook dispatcher, and (on PostgreSQL) the wake-up listener.

    The composition root builds the parts (`cascade.bootstrap.build_engine`); the engine
    runs them and closes the channels when it stops.
    """

    def __init__(
        self,
        store: EngineStore,
        channels: Mapping[str, Channel],
        worker: Worker,
        dispatcher: CallbackDispatcher,
        listener: PgListener | None = None,
    ) -> None:
        self.store = store
        self.channels = dict(channels)
        self.worker = worker
        self.dispatcher = dispatcher
        self._listener = listener

    def wake(self) -> None:
        self.worker.wake()

    async def run(self, stop: asyncio.Event) -> None:
        if self._listener is not None:
            await self._listener.start()

        await self.worker.start_sessions(report_committer(self.store, self.worker.wake))
        try:
            await asyncio.gather(self.worker.run(stop), self.dispatcher.run(stop))
        finally:
            if self._listener is not None:
                await self._listener.stop()
            await self.dispatcher.aclose()
            for channel in self.channels.values():
                await channel.aclose()


def stop_on_signals() -> asyncio.Event:
    """An event that SIGINT or SIGTERM sets (where the loop can take signals)."""
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    return stop


async def run_until_signalled(engine: Engine) -> None:
    stop = stop_on_signals()
    try:
        await engine.run(stop)
    finally:
        await engine.store.close()
