"""The Viber bot channel's settings, each read from `CASCADE_{FIELD}` (see channels.spec)."""

from __future__ import annotations

from dataclasses import dataclass

from cascade.channels.spec import setting
from cascade.channels.viber_bot.client import DEFAULT_BASE_URL


@dataclass(frozen=True, slots=True)
class ViberBotSettings:
    viber_api_url: str = setting(DEFAULT_BASE_URL, "Viber REST Bot API base URL")
    viber_bot_window_s: int = setting(
        600, "seconds to wait for a Viber `delivered` callback before moving on"
    )
