"""The event loop the worker and the SMSC simulator run on.

uvloop where it is installed (it comes with uvicorn's standard extras, and the API
servers already run on it): the engine's throughput is bounded by how quickly the loop
turns round — every database statement and every SMPP answer is one more turn — and
uvloop's turns cost a fraction of the pure-Python loop's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - a platform without uvloop
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
