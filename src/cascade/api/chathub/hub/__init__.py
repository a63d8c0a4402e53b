"""The ChatHub SignalR hub (SPEC E4): the hub protocol over WebSockets, and fan-out.

The chat code builds a `Hub` with its `authenticate` callable and a bus, registers the
methods clients invoke, calls `publish` for each event and `dismiss` when callers lose
what they were allowed (their connections close, in every process), and mounts
`hub_router(hub)`.
"""

from cascade.api.chathub.hub.bus import Bus, LocalBus, PgBus, RedisBus
from cascade.api.chathub.hub.connection import HubSettings
from cascade.api.chathub.hub.hub import Hub
from cascade.api.chathub.hub.routes import hub_router
from cascade.api.chathub.hub.types import (
    Audience,
    Authenticate,
    Dismissal,
    HubError,
    HubPrincipal,
)

__all__ = [
    "Audience",
    "Authenticate",
    "Bus",
    "Dismissal",
    "Hub",
    "HubError",
    "HubPrincipal",
    "HubSettings",
    "LocalBus",
    "PgBus",
    "RedisBus",
    "hub_router",
]
