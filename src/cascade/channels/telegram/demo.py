"""`cascade up` with Telegram: the Bot API simulator, a demo bot, and two people who meet
it the real way (they start the bot and share their contact; one then blocks it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx

from cascade.channels.spec import Demo, asgi_simulator
from cascade.channels.telegram.settings import TelegramSettings

# a token the simulator accepts; it is worth nothing anywhere else
BOT_TOKEN = "7000000001:DEMO-telegram-bot-token-for-the-sims"  # noqa: S105


@asynccontextmanager
async def _serve(
    host: str, port: int, s: TelegramSettings
) -> AsyncIterator[Sequence[tuple[Any, int]]]:
    from cascade.simulators import telegram as simulator

    async with asgi_simulator(simulator.create_app(), port) as apps:
        yield apps


def _configure(
    s: TelegramSettings, url: str, host: str, port: int, explicit: frozenset[str]
) -> TelegramSettings:
    return replace(s, telegram_api_url=url)


async def _onboard(http: httpx.AsyncClient, url: str) -> None:
    for phone in ("+380501230001", "+380501230002"):
        for action in ("start", "share_contact"):
            response = await http.post(
                f"{url}/_sim/users/{phone}/{action}", params={"bot": BOT_TOKEN}
            )
            response.raise_for_status()
    blocked = await http.post(f"{url}/_sim/users/+380501230002/block", params={"bot": BOT_TOKEN})
    blocked.raise_for_status()


DEMO: Demo[TelegramSettings] = Demo(
    simulator="telegram",
    serve=_serve,
    configure=_configure,
    bot_token=BOT_TOKEN,
    onboard=_onboard,
)
