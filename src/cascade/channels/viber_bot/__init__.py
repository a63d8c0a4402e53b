"""The Viber bot channel: Viber REST Bot API (`send_message`, `set_webhook`, callbacks).

Recipients are addressed by their Viber user id, which is per bot and learnt from the
bot's callbacks (a shared contact links it to a phone). Delivery is confirmed by the
`delivered` callback; `seen` makes a message read.
"""

from cascade.channels.viber_bot.client import (
    DEFAULT_BASE_URL,
    LIMITS,
    STATUS_NAMES,
    ViberApiError,
    ViberBotChannel,
    outcome_for_status,
)
from cascade.channels.viber_bot.webhook import WEBHOOK_ROUTE, handle_webhook, signature

__all__ = [
    "DEFAULT_BASE_URL",
    "LIMITS",
    "STATUS_NAMES",
    "WEBHOOK_ROUTE",
    "ViberApiError",
    "ViberBotChannel",
    "handle_webhook",
    "outcome_for_status",
    "signature",
]
