"""The Telegram Bot API simulator: run it with `create_app()` on a real port.

The modules, by what they hold: `simulator` (the Bot API's methods and the users'
actions, over the simulator's state), `users` (the simulated users and chats), `flood`
(flood control) and `app` (the HTTP face, with the `/_sim/` admin endpoints).
"""

from cascade.simulators.telegram.app import create_app, main
from cascade.simulators.telegram.simulator import Received, TelegramSimulator, Webhook
from cascade.simulators.telegram.users import CHAT_ID_OFFSET, chat_id_for, phone_for

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
