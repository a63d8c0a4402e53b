"""Cascade's webhook endpoint in small, for the simulator tests: the receiving app.

It serves one channel's own webhook handler at `/webhooks/<channel>/<sender id>`, handing it
each request as the API layer does (headers lower-cased, the URL it was called at in
`x-cascade-webhook-url`), so every callback a simulator sends must pass the real checks to
produce events. It keeps what it saw: every callback, what the handler answered, the events.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from litestar import Litestar, Request, Response, post
from litestar.params import FromPath

from cascade.channels.base import Inbound, WebhookHandler
from cascade.domain.events import DeliveryReport, Event
from cascade.domain.sending import Sender


@dataclass
class Callback:
    kind: str  # what the callback was about (its event or status, as `kind_of` reads it)
    status: int  # the HTTP status the handler answered with
    events: tuple[Event, ...]
    arrived: float  # time.monotonic() when the request came in


def json_field(name: str) -> Callable[[bytes], str]:
    """A `kind_of` reading one field of a JSON body ("?" if the body is not a JSON object)."""

    def read(body: bytes) -> str:
        try:
            return str(msgspec.json.decode(body).get(name))
        except (msgspec.DecodeError, AttributeError):
            return "?"

    return read


def form_field(name: str) -> Callable[[bytes], str]:
    """A `kind_of` reading one field of a form-encoded body ("?" if it has none)."""

    def read(body: bytes) -> str:
        return dict(parse_qsl(body.decode(errors="replace"))).get(name, "?")

    return read


@dataclass
class Receiver:
    """What Cascade's webhook endpoint for one channel saw: every callback, and its events."""

    channel: str
    handler: WebhookHandler
    senders: Iterable[Sender]
    kind_of: Callable[[bytes], str] = lambda _body: "?"
    url: str = ""  # where the app serves, once it does
    seen: list[Callback] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def webhook(self, sender: Sender) -> str:
        return f"{self.url}/webhooks/{self.channel}/{sender.id}"

    def events(self) -> list[Event]:
        with self.lock:
            return [e for c in self.seen for e in c.events]

    def callbacks(self) -> list[Callback]:
        with self.lock:
            return list(self.seen)

    def statuses(self) -> list[int]:
        with self.lock:
            return [c.status for c in self.seen]

    def app(self) -> Litestar:
        senders = {s.id: s for s in self.senders}

        @post(f"/webhooks/{self.channel}/{{sender_id:str}}", status_code=200)
        async def webhook(
            sender_id: FromPath[str], request: Request[Any, Any, Any]
        ) -> Response[bytes]:
            sender = senders.get(sender_id)
            if sender is None:  # as the API layer answers
                return Response(b"", status_code=404)
            arrived = time.monotonic()
            body = await request.body()
            headers = {k.lower(): v for k, v in request.headers.items()}
            headers["x-cascade-webhook-url"] = str(request.url)  # as the API layer passes it
            reply = await self.handler(Inbound(sender, headers, body))
            with self.lock:
                self.seen.append(Callback(self.kind_of(body), reply.status, reply.events, arrived))
            return Response(reply.body, status_code=reply.status, media_type=reply.content_type)

        return Litestar([webhook], openapi_config=None)


def reports(receiver: Receiver, provider_id: str) -> list[DeliveryReport]:
    return [
        e
        for e in receiver.events()
        if isinstance(e, DeliveryReport) and e.provider_id == provider_id
    ]


def report_arrivals(receiver: Receiver, provider_id: str) -> list[float]:
    """When each callback with a report of `provider_id` came in (time.monotonic()), oldest
    first: a test shows a report was held by comparing with the time it sent."""
    return [
        c.arrived
        for c in receiver.callbacks()
        if any(isinstance(e, DeliveryReport) and e.provider_id == provider_id for e in c.events)
    ]
