"""The API app as `cascade api` builds it, plus one hub method, for the fan-out tests.

`Announce(chatId, text)` publishes `ReceiveMessage` to the caller's account, so a client of
one server process makes an event that must reach clients of every other process (the
chat code's SendMessage and webhooks publish the same way). The hub authenticates as
production's does (`build_chat_hub`: ChatHub's JWTs, then the account's API key). Served
by granian or uvicorn as a factory: `tests.hub_app:app`.
"""

from __future__ import annotations

from litestar import Litestar

from cascade.api.chathub.hub import Audience, HubPrincipal
from cascade.bootstrap import build_app, build_chat_hub, build_store
from cascade.clock import SystemClock
from cascade.config import Settings


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
