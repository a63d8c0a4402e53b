"""The Viber REST Bot API simulator (see `app` for its endpoints and controls)."""

from cascade.simulators.viber.app import (
    Bot,
    CallbackSent,
    Received,
    ViberSimulator,
    create_app,
    phone_for,
    sign,
    user_id,
)

__all__ = [
    "Bot",
    "CallbackSent",
    "Received",
    "ViberSimulator",
    "create_app",
    "phone_for",
    "sign",
    "user_id",
]
