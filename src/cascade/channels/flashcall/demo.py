"""`cascade up` with flash calls: the Twilio Programmable Voice simulator, the demo's
Twilio account and a caller-number block."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from cascade.channels.flashcall.settings import FlashCallSettings
from cascade.channels.spec import Demo, asgi_simulator

ACCOUNT_SID, AUTH_TOKEN = "AC" + "0" * 32, "demo-twilio-auth-token"
CALLER_PREFIX = "+44207946"


@asynccontextmanager
async def _serve(
    host: str, port: int, s: FlashCallSettings
) -> AsyncIterator[Sequence[tuple[Any, int]]]:
    from cascade.simulators import flashcall as simulator

    app = simulator.create_app(accounts={ACCOUNT_SID: AUTH_TOKEN})
    async with asgi_simulator(app, port) as apps:
        yield apps


def _configure(
    s: FlashCallSettings, url: str, host: str, port: int, explicit: frozenset[str]
) -> FlashCallSettings:
    return replace(
        s,
        flashcall_api_url=url,
        flashcall_account_sid=ACCOUNT_SID,
        flashcall_auth_token=AUTH_TOKEN,
        flashcall_caller_prefix=CALLER_PREFIX,
    )


DEMO: Demo[FlashCallSettings] = Demo(simulator="flashcall", serve=_serve, configure=_configure)
