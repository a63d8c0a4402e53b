"""The API app as `cascade api` builds it, plus one hub method, for the fan-out tests.

`Announce(chatId, text)` publishes `ReceiveMessage` to the caller's account, so a client of
one server process makes an event that must reach clients of every other process (the
chat code's SendMessage and webhooks publish the same way). The hub authenticates as
production's does (`build_chat_hub`: ChatHub's JWTs, then the account's API key). Served
by granian or uvicorn as a factory: `tests.hub_app:app`.
"""

from __future__ import annotations

from litestar import Litestar

from cascade.api.auth import Authenticator
from cascade.api.chathub.hub import Audience, Hub, HubPrincipal
from cascade.bootstrap import (
    build_app,
    build_chat_auth,
    build_hub,
    build_store,
    chat_authenticate,
)
from cascade.clock import Clock, SystemClock
from cascade.config import Settings
from cascade.store.sql import SqlStore


def build_chat_hub(settings: Settings, store: SqlStore, clock: Clock) -> Hub:
    """The hub as `build_app` makes it when given none: its bus, and ChatHub's tokens and
    the account's API keys as credentials (`chat_authenticate`; no sign-in throttle). For
    a test that registers methods or publishes on the hub it then passes to `build_app`."""
    keys = Authenticator(store, clock, settings.auth_cache_seconds)
    chat_auth = build_chat_auth(settings, store, clock, keys)
    return build_hub(settings, clock, chat_authenticate(chat_auth))


def app() -> Litestar:
    settings = Settings.from_env()
    clock = SystemClock()
    store = build_store(settings, clock)
    hub = build_chat_hub(settings, store, clock)

    async def announce(caller: HubPrincipal, chat_id: int, text: str) -> str:
        event = {"chatId": chat_id, "message": text}
        await hub.publish("ReceiveMessage", [event], Audience(caller.account_id))
        return "published"

    hub.register("Announce", announce)
    return build_app(settings, clock=clock, store=store, hub=hub)
