"""The Telegram channel's spec: its settings and how it is built (see channels.spec)."""

from __future__ import annotations

from cascade.channels.spec import BotChannel, ChannelSpec
from cascade.channels.telegram.client import (
    LIMITS,
    TelegramApiError,
    TelegramChannel,
)
from cascade.channels.telegram.demo import DEMO
from cascade.channels.telegram.settings import TelegramSettings
from cascade.channels.telegram.webhook import CHANNEL, WEBHOOK_ROUTE

SPEC: ChannelSpec[TelegramSettings] = ChannelSpec(
    name=CHANNEL,
    limits=LIMITS,
    settings=TelegramSettings,
    demo=DEMO,
    build=lambda s, public_url: TelegramChannel(s.telegram_api_url),
    # the Bot API's acceptance is delivery: no report is awaited
    window_s=lambda s: LIMITS.delivery_window_s,
    webhook=WEBHOOK_ROUTE,
    bots=BotChannel(
        kind="telegram",
        set_webhook=TelegramChannel.set_webhook,
        refused=TelegramApiError,
        chat_source=2,
    ),
    on_by_default=True,
)
