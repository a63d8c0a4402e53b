"""The Viber bot channel's spec: its settings and how it is built (see channels.spec)."""

from __future__ import annotations

from cascade.channels.spec import BotChannel, ChannelSpec
from cascade.channels.viber_bot.client import (
    LIMITS,
    ViberApiError,
    ViberBotChannel,
)
from cascade.channels.viber_bot.demo import DEMO
from cascade.channels.viber_bot.settings import ViberBotSettings
from cascade.channels.viber_bot.webhook import CHANNEL, WEBHOOK_ROUTE

SPEC: ChannelSpec[ViberBotSettings] = ChannelSpec(
    name=CHANNEL,
    limits=LIMITS,
    settings=ViberBotSettings,
    demo=DEMO,
    build=lambda s, public_url: ViberBotChannel(s.viber_api_url),
    window_s=lambda s: s.viber_bot_window_s,
    webhook=WEBHOOK_ROUTE,
    bots=BotChannel(
        kind="viber",
        set_webhook=ViberBotChannel.set_webhook,
        refused=ViberApiError,
        chat_source=1,
    ),
    on_by_default=True,
)
