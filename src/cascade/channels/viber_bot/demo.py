"""`cascade up` with the Viber bot: the REST Bot API simulator, a demo bot, and three
people who subscribe to it and share their contact, the real way."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx

from cascade.channels.spec import Demo, asgi_simulator, unless_set
from cascade.channels.viber_bot.settings import ViberBotSettings

BOT_TOKEN = "demo-viber-bot-auth-token-for-the-sim"  # noqa: S105
WINDOW_S = 15  # short, so the demo shows a message moving on within seconds


@asynccontextmanager
async def _serve(
    host: str, port: int, s: ViberBotSettings
) -> AsyncIterator[Sequence[tuple[Any, int]]]:
    from cascade.simulators import viber as simulator

    app = simulator.create_app(bots={BOT_TOKEN: "Cascade demo"})
    async with asgi_simulator(app, port) as apps:
        yield apps


def _configure(
    s: ViberBotSettings, url: str, host: str, port: int, explicit: frozenset[str]
) -> ViberBotSettings:
    return replace(s, viber_api_url=url, **unless_set(explicit, viber_bot_window_s=WINDOW_S))


async def _onboard(http: httpx.AsyncClient, url: str) -> None:
    for phone in ("+380501230002", "+380501230005", "+380501230009"):
        for action in ("subscribe", "share_contact"):
            response = await http.post(
                f"{url}/_sim/users/{phone}/{action}", params={"token": BOT_TOKEN}
            )
            response.raise_for_status()


DEMO: Demo[ViberBotSettings] = Demo(
    simulator="viber",
    serve=_serve,
    configure=_configure,
    bot_token=BOT_TOKEN,
    onboard=_onboard,
)
