"""One runner for every channel's table-shaped tests: sends against a mocked provider, and
inbound webhook requests.

A case is a table row.

* `SendCase`: the outbound message; the provider calls the send must make, in order, each
  the mocked answer and the request expected for it; the `Outcome` the channel returns.
* `HookCase`: the inbound request; the reply's status and body, and the domain events the
  handler returns.

`run_send` and `run_hook` fail a case when

* a mocked answer is left unused, or a request comes that no answer was scripted for;
* a request differs from the expected one: its method, origin and path, query, headers,
  body or the key fields of its body;
* the outcome, or the reply and its events, differ from the row's;
* a secret the case's channel or sender was built with appears in a log record of the case
  (any logger, DEBUG and up, tracebacks included) or in the outcome, or a secret the
  outcome carries (a flash call's caller number) appears in a log record; and a case that
  reached its provider must have logged something, or that check would prove nothing.

Where a channel meets its provider is a `Bench`. `HttpBench` here runs an HTTP channel on
an `httpx.MockTransport` (tests/mock_transport.py) and its calls are `Call`s; the SMS
channel's bench, on the SMSC simulator over loopback, is in tests/test_channel_sms.py.
A row whose outcome holds what only the provider's side knows (a message id the SMSC
made up, the code a flash call carries) gives the outcome as a function of the requests
the bench saw. A library that speaks synchronous HTTP (google-auth fetching a token) gets
a client on the same mocked provider (`HttpBench.sync_client`), so its calls are rows too.

A channel's test file holds its bench and its rows, and runs them:

    @pytest.mark.parametrize("case", CASES, ids=cases.ids)
    async def test_send(case: cases.HttpCase) -> None:
        await cases.run_send(BENCH, case)

tests/test_channel_cases.py shows each of the runner's checks failing a bad row.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import parse_qsl

import httpx

from cascade.channels.base import Channel, Inbound, WebhookHandler
from cascade.domain.events import Event
from cascade.domain.sending import Outbound, Outcome, Sender
from tests.mock_transport import Exchange, channel_on, scripted

X = TypeVar("X")  # a call a case expects
R = TypeVar("R")  # what the provider saw of one
X_contra = TypeVar("X_contra", contravariant=True)


# --- values that are checked by a rule, not equality ------------------------------------------


class Matching:
    """Equal to every string that matches `pattern` in full: for values only the channel
    knows, such as a fresh request id or a random code."""

    def __init__(self, pattern: str) -> None:
        self.pattern = re.compile(pattern)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and self.pattern.fullmatch(other) is not None

    def __hash__(self) -> int:
        return hash(self.pattern)

    def __repr__(self) -> str:
        return f"Matching({self.pattern.pattern!r})"


UUID = Matching("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# --- the rows -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendCase(Generic[X, R]):
    """One send: `out` goes out with the channel built with `config` (over its bench's
    defaults); the provider gets `calls`, in order; the send comes to `outcome`, or to what
    `outcome` makes of the requests the provider saw."""

    id: str
    out: Outbound
    calls: Sequence[X]  # empty: nothing may reach the provider
    outcome: Outcome | Callable[[Sequence[R]], Outcome]
    config: Mapping[str, Any] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()  # what `config` holds that no log may show


@dataclass(frozen=True)
class HookCase:
    """One inbound webhook request and what its handler must answer."""

    id: str
    inbound: Inbound | Callable[[], Inbound]  # a function: made as the case runs (a
    # token that carries the time it was signed must not age from collection on)
    status: int = 200
    events: tuple[Event, ...] = ()
    body: bytes | Mapping[str, Any] | None = None  # a mapping: the JSON reply; None: any
    secrets: tuple[str, ...] = ()  # besides the inbound's sender's
    content_type: str | None = None  # None: application/json for a JSON body, else any


def ids(case: SendCase[Any, Any] | HookCase) -> str:
    """The case's id, for `pytest.mark.parametrize(..., ids=ids)`."""
    return case.id


# --- the bench a channel runs on ------------------------------------------------------------------


@dataclass(frozen=True)
class Served(Generic[R]):
    """A channel on its mocked provider, for one case."""

    channel: Channel
    check: Callable[[], Awaitable[Sequence[R]]]  # every call made as expected; what was seen


class Bench(Protocol[X_contra, R]):
    """Where a channel meets its mocked provider."""

    @property
    def secrets(self) -> tuple[str, ...]: ...  # what the channel is built with

    def secrets_of(self, outcome: Outcome) -> tuple[str, ...]: ...  # what it carries

    def serving(
        self, calls: Sequence[X_contra], config: Mapping[str, Any]
    ) -> AbstractAsyncContextManager[Served[R]]: ...


# --- running a case ---------------------------------------------------------------------------


async def run_send(bench: Bench[X, R], case: SendCase[X, R]) -> Outcome:
    """Run one send case; an AssertionError says what differed. Returns the outcome."""
    with captured_logs() as records:
        async with bench.serving(case.calls, case.config) as served:
            outcome = await served.channel.send(case.out)
            seen = await served.check()
    expected = case.outcome(seen) if callable(case.outcome) else case.outcome
    assert outcome == expected, f"{case.id}: the outcome is {outcome!r}, not {expected!r}"
    if case.calls:
        assert records, f"{case.id}: nothing was logged, so no secret can be shown kept out"
    secrets = (*bench.secrets, *case.secrets, *sender_secrets(case.out.sender))
    assert_kept(secrets, records, repr(outcome), case.id)
    assert_kept(bench.secrets_of(outcome), records, "", case.id)
    return outcome


async def run_hook(handler: WebhookHandler, case: HookCase, secrets: Sequence[str] = ()) -> None:
    """Run one webhook case through `handler`; `secrets`: what the channel holds besides
    the inbound's sender."""
    inbound = case.inbound() if callable(case.inbound) else case.inbound
    with captured_logs() as records:
        reply = await handler(inbound)
    got = (reply.status, reply.events)
    assert got == (case.status, case.events), f"{case.id}: answered {got!r}"
    if isinstance(case.body, bytes):
        assert reply.body == case.body, f"{case.id}: the reply body is {reply.body!r}"
    elif case.body is not None:
        assert _json(reply.body) == case.body, f"{case.id}: the reply is {reply.body!r}"
    content_type = case.content_type
    if content_type is None and case.body is not None and not isinstance(case.body, bytes):
        content_type = "application/json"
    if content_type is not None:
        assert reply.content_type == content_type, f"{case.id}: {reply.content_type}"
    kept = (*secrets, *case.secrets, *sender_secrets(inbound.sender))
    assert_kept(kept, records, repr(reply), case.id)


def _json(raw: bytes) -> object:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def sender_secrets(sender: Sender) -> tuple[str, ...]:
    return tuple(s for s in (sender.token, sender.webhook_secret) if s)


@contextmanager
def captured_logs() -> Iterator[list[logging.LogRecord]]:
    """Every record any logger emits meanwhile, DEBUG and up."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    root = logging.getLogger()
    handler, level = Keep(logging.DEBUG), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


_FORMAT = logging.Formatter("%(levelname)s %(name)s %(message)s")


def assert_kept(
    secrets: Sequence[str], records: Sequence[logging.LogRecord], shown: str, case: str
) -> None:
    """No secret in any record (message, arguments, traceback) nor in `shown`."""
    text = "\n".join(_FORMAT.format(record) for record in records)
    for secret in filter(None, secrets):
        assert secret not in text, f"{case}: a secret was logged: {secret[:4]}…"
        assert secret not in shown, f"{case}: a secret is in {shown[:40]}…"


# --- HTTP providers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One HTTP request the channel must make, and the mocked answer it gets.

    `body` is the whole body: a mapping is the JSON object, a list of pairs the form in
    order, bytes the raw content. `fields` are key fields of it (JSON or form). `headers`
    must be there with these values, besides the bench's; `query` is the whole query.
    """

    answer: httpx.Response | Exception
    method: str
    path: str
    origin: str = ""  # scheme://host[:port]; "": the bench's
    query: Mapping[str, object] = field(default_factory=dict)
    headers: Mapping[str, object] = field(default_factory=dict)
    body: Mapping[str, Any] | Sequence[tuple[str, object]] | bytes | None = None
    fields: Mapping[str, object] = field(default_factory=dict)


C = TypeVar("C", bound=Channel)


@dataclass(frozen=True)
class HttpBench(Generic[C]):
    """An HTTP channel, built by `make(client, **config)` on a client whose only transport
    is the mocked provider at `origin`."""

    origin: str
    make: Callable[..., C]
    secrets: tuple[str, ...]
    headers: Mapping[str, object] = field(default_factory=dict)  # on every request
    # the keyword of `make` that gets a synchronous client on the same mocked provider,
    # for a library that speaks synchronous HTTP (google-auth): its calls are rows too
    sync_client: str | None = None
    # what an outcome carries that no log may show (a flash call's caller number)
    carried: Callable[[Outcome], tuple[str, ...]] = lambda _: ()

    def secrets_of(self, outcome: Outcome) -> tuple[str, ...]:
        return self.carried(outcome)

    @asynccontextmanager
    async def serving(
        self, calls: Sequence[Call], config: Mapping[str, Any]
    ) -> AsyncIterator[Served[httpx.Request]]:
        with scripted("") as api:
            api.expect(*(Exchange(call.answer, call.path, call.method) for call in calls))

            async def check() -> Sequence[httpx.Request]:
                api.assert_done()  # no answer left unused
                for number, (call, request) in enumerate(zip(calls, api.requests, strict=True)):
                    self.check_request(call, request, f"request {number + 1}")
                return api.requests

            with httpx.Client(transport=httpx.MockTransport(api.handle)) as sync:
                if self.sync_client is not None:
                    config = {**config, self.sync_client: sync}
                async with channel_on(api, lambda client: self.make(client, **config)) as channel:
                    yield Served(channel, check)

    def check_request(self, call: Call, request: httpx.Request, name: str) -> None:
        where = f"{request.url.scheme}://{request.url.netloc.decode()}{request.url.path}"
        want = f"{call.origin or self.origin}{call.path}"
        assert (request.method, where) == (call.method, want), f"{name}: {request.method} {where}"
        query = dict(request.url.params)
        assert query == call.query, f"{name}: the query is {query!r}, not {call.query!r}"
        for header, value in {**self.headers, **call.headers}.items():
            got = request.headers.get(header)
            assert got == value, f"{name}: {header} is {got!r}, not {value!r}"
        body, as_fields = decoded(request)
        if call.body is not None:
            assert body == call.body, f"{name}: the body is {body!r}, not {call.body!r}"
        for key, value in call.fields.items():
            got = as_fields.get(key)
            assert got == value, f"{name}: the body's {key} is {got!r}, not {value!r}"


def decoded(request: httpx.Request) -> tuple[object, Mapping[str, Any]]:
    """A request's body as a case names it, and its fields by name."""
    kind = request.headers.get("content-type", "").split(";")[0]
    if kind == "application/json":
        body = json.loads(request.content)
        return body, body if isinstance(body, dict) else {}
    if kind == "application/x-www-form-urlencoded":
        pairs = parse_qsl(request.content.decode(), keep_blank_values=True)
        return pairs, dict(pairs)
    return request.content, {}


HttpCase = SendCase[Call, httpx.Request]
