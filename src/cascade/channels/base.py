"""The seam between the delivery engine and a channel.

A channel package declares its limits as data, implements `Channel.send` (one outbound
message → one `Outcome`), and may declare webhook routes that turn a provider's inbound
HTTP request into a reply plus domain `Event`s (`cascade.domain.events`). Channel packages
never import the web framework or the store: the API layer mounts their routes, and the
engine applies their events, so a channel is testable with nothing but a mocked HTTP
transport.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from cascade.domain.events import Event
from cascade.domain.sending import Limits, Outbound, Outcome, Sender

# --- what a channel is --------------------------------------------------------------------


class Channel(Protocol):
    name: str
    limits: Limits

    async def send(self, out: Outbound) -> Outcome: ...
    async def aclose(self) -> None: ...


EventSink = Callable[[Sequence[Event]], Awaitable[None]]


@runtime_checkable
class SessionChannel(Channel, Protocol):
    """A channel holding a session of its own (SMPP): reports arrive on it, not by HTTP.

    The engine calls `start` once, before the first send, with where to put what the
    session receives (delivery receipts); `aclose` ends the session.
    """

    async def start(self, sink: EventSink) -> None: ...


Depart = Callable[[], Awaitable[bool]]
"""Called by a send right before its request leaves the process: True once the intent to
send is committed, False if it could not be (then nothing may leave)."""


@runtime_checkable
class DepartureGated(Protocol):
    """A channel whose send may wait inside it before anything leaves (an SMPP window
    slot): it calls `depart` at the last moment, so that a crash while it waits leaves no
    send in doubt that never left. Other channels' requests leave as soon as they are
    called, and the engine commits their intent just before."""

    async def send_when(self, out: Outbound, depart: Depart) -> Outcome: ...


@runtime_checkable
class Revocable(Protocol):
    """A channel that can withdraw a message not yet delivered (RBM's revoke): the engine
    calls it when the step's window ends, so a late delivery cannot follow the next step."""

    async def revoke(self, sender: Sender, phone: str, provider_id: str) -> None: ...


@runtime_checkable
class Windowed(Protocol):
    """A channel whose sends hold a slot of a window while they wait for the provider's
    answer (SMPP's `submit_sm` window): the metrics read how full it is when scraped."""

    def window(self) -> tuple[int, int]:
        """(sends in the window now, the window's size)."""
        ...


# --- what comes back in through webhooks ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Inbound:
    """An inbound webhook request, framework-free."""

    sender: Sender
    headers: Mapping[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True, slots=True)
class WebhookReply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    events: tuple[Event, ...] = field(default_factory=tuple)


WebhookHandler = Callable[[Inbound], Awaitable[WebhookReply]]


@dataclass(frozen=True, slots=True)
class WebhookRoute:
    """`POST /webhooks/{channel}/{sender_id}` is served by `handler` for `channel`."""

    channel: str
    handler: WebhookHandler
