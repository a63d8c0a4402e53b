"""The Twilio Programmable Voice simulator for flash calls (see `app` for its endpoints)."""

from cascade.simulators.flashcall.app import (
    Call,
    CallbackSent,
    FlashCallSimulator,
    create_app,
    sign,
)

__all__ = ["Call", "CallbackSent", "FlashCallSimulator", "create_app", "sign"]
