"""The console at `/console` (SPEC F): an account's messages, their timelines, and its
figures, as server-rendered pages behind the account's login (`routes.py`)."""

from cascade.api.console.routes import Console, console_router
from cascade.api.console.sessions import Sessions

__all__ = ["Console", "Sessions", "console_router"]
