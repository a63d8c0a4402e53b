"""The Telegram channel: the Bot API's `sendMessage`, and the updates webhook.

Recipients are addressed by chat id, learnt per bot from the webhook: `/start` offers a
"share my phone number" button, and the user's own shared contact links phone to chat.
The Bot API accepting a message is delivery (Telegram has no receipts). Blocking the bot
shows up both as a 403 on send and as a `my_chat_member` update.
"""

from cascade.channels.telegram.client import (
    DEFAULT_BASE_URL,
    LIMITS,
    TelegramApiError,
    TelegramChannel,
    outcome_for,
    redact,
)
from cascade.channels.telegram.webhook import (
    ALLOWED_UPDATES,
    SECRET_HEADER,
    WEBHOOK_ROUTE,
    handle_webhook,
    normalise_phone,
    survey_markup,
)

__all__ = [
    "ALLOWED_UPDATES",
    "DEFAULT_BASE_URL",
    "LIMITS",
    "SECRET_HEADER",
    "WEBHOOK_ROUTE",
    "TelegramApiError",
    "TelegramChannel",
    "handle_webhook",
    "normalise_phone",
    "outcome_for",
    "redact",
    "survey_markup",
]
