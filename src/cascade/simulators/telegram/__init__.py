"""The Telegram Bot API simulator: run it with `create_app()` on a real port.

See `app` for what it speaks and the `/_sim/` admin endpoints.
"""

from cascade.simulators.telegram.app import (
    CHAT_ID_OFFSET,
    Received,
    TelegramSimulator,
    Webhook,
    chat_id_for,
    create_app,
    main,
    phone_for,
)

__all__ = [
    "CHAT_ID_OFFSET",
    "Received",
    "TelegramSimulator",
    "Webhook",
    "chat_id_for",
    "create_app",
    "main",
    "phone_for",
]
