"""A scripted HTTP provider for the channel tests, behind `httpx.MockTransport`.

A test declares the exchanges it expects, in order; the provider answers each request with
the next one's response (or raises its transport error) and fails the test when a request
arrives that was not expected or goes elsewhere than expected, or when an expected one never
came. Every request is kept for the test to inspect. No request can leave the machine: the
only transport is `httpx.MockTransport`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qsl

import httpx

from cascade.domain.sending import InDoubt, Outcome, Retry

# The rule of cascade/channels/http.py, for a channel whose send may deliver twice if repeated:
# a request that cannot have left is retried; one the provider may have acted on is in doubt.
TRANSPORT_FAULTS: list[tuple[str, httpx.Response | Exception, Outcome]] = [
    ("read-timeout", httpx.ReadTimeout("slow"), InDoubt("NO_ANSWER:ReadTimeout")),
    ("connect-timeout", httpx.ConnectTimeout("slow"), Retry("NETWORK:ConnectTimeout")),
    ("connect-error", httpx.ConnectError("refused"), Retry("NETWORK:ConnectError")),
    ("reset", httpx.RemoteProtocolError("reset"), InDoubt("NO_ANSWER:RemoteProtocolError")),
]


@dataclass
class Exchange:
    """One expected request and the answer (or transport error) it gets."""

    answer: httpx.Response | Exception
    path: str | None = None  # None: the provider's usual path
    method: str | None = None  # None: any method


@dataclass
class MockApi:
    path: str  # where a request goes unless its exchange names another path
    pending: list[Exchange] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)

    def expect(self, *exchanges: Exchange) -> None:
        self.pending.extend(exchanges)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.pending:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        exchange = self.pending.pop(0)
        path = self.path if exchange.path is None else exchange.path
        if exchange.method is None:
            assert request.url.path == path
        else:
            assert (request.method, request.url.path) == (exchange.method, path)
        if isinstance(exchange.answer, Exception):
            raise exchange.answer
        return exchange.answer

    def assert_done(self) -> None:
        assert not self.pending, f"{len(self.pending)} expected request(s) never made"

    def client(self) -> httpx.AsyncClient:
        """A client whose only transport is this provider."""
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))

    def body(self, index: int = -1) -> dict[str, Any]:
        """The JSON body of one request, the last by default."""
        decoded: dict[str, Any] = json.loads(self.requests[index].content)
        return decoded

    @property
    def only_body(self) -> dict[str, Any]:
        """The JSON body of the one request there must have been."""
        assert len(self.requests) == 1
        return self.body(0)

    @property
    def only_form(self) -> list[tuple[str, str]]:
        """The form fields of the one request there must have been, in order."""
        assert len(self.requests) == 1
        return parse_qsl(self.requests[0].content.decode(), keep_blank_values=True)


@contextmanager
def scripted(path: str) -> Iterator[MockApi]:
    """A mocked API for a fixture: afterwards, every exchange it expected must have been made."""
    api = MockApi(path)
    yield api
    api.assert_done()


class _Closable(Protocol):
    async def aclose(self) -> None: ...


C = TypeVar("C", bound=_Closable)


@asynccontextmanager
async def channel_on(api: MockApi, make: Callable[[httpx.AsyncClient], C]) -> AsyncIterator[C]:
    """The channel `make` builds on a client of `api`'s, closed afterwards; the channel
    must leave the client it was handed open."""
    client = api.client()
    channel = make(client)
    yield channel
    await channel.aclose()
    assert not client.is_closed  # a client handed in belongs to the caller
    await client.aclose()
