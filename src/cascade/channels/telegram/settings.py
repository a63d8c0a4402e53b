"""The Telegram channel's settings, each read from `CASCADE_{FIELD}` (see channels.spec)."""

from __future__ import annotations

from dataclasses import dataclass

from cascade.channels.spec import setting
from cascade.channels.telegram.client import DEFAULT_BASE_URL


@dataclass(frozen=True, slots=True)
class TelegramSettings:
    telegram_api_url: str = setting(
        DEFAULT_BASE_URL, "Telegram Bot API base URL (a simulator's, for tests and the demo)"
    )
