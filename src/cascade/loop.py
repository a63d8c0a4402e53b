"""The event loop the worker and the SMSC simulator run on.

uvloop where it is installed (it comes with uvicorn's standard extras, and the API
servers already run on it): the engine's throughput is bounded by how quickly the loop
turns round — every database statement and every SMPP answer is one more turn — and
uvloop's turns cost a fraction of the pure-Python loop's.

Before the loop starts, everything the process has built so far (modules, SQLAlchemy's
and libphonenumber's tables) is moved out of the garbage collector's reach with
`gc.freeze()`, and the collector runs less often: each message makes a few dozen
short-lived objects, and with the default thresholds the collector's passes over the
long-lived heap cost the worker close to a tenth of its CPU.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


_GC_THRESHOLDS = (20_000, 20, 20)  # young objects before a collection; defaults (700, 10, 10)


def run(main: Coroutine[Any, Any, T]) -> T:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*_GC_THRESHOLDS)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - a platform without uvloop
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
