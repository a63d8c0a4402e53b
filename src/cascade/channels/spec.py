"""What a channel declares about itself: one `ChannelSpec` per channel package.

`cascade.channels.registry` lists the specs; the composition root, the configuration, the
CLI and `cascade up` iterate it, so that adding a channel is its package, one registry
line, its migrations and its tests. A spec holds:

- `name` and `limits` (what the channel carries: text length, content kinds, rates);
- `parts`: how many parts a step's content goes out as (SMS segments; 1 elsewhere), known
  before it is sent;
- `pattern`: what the core API's answer shows of a step's content before it is sent, from
  the channel's settings (a flash call from its own `callerId`: the code's digits behind
  stars); None for most;
- `settings`: a frozen dataclass whose fields are the channel's settings, each read from
  `CASCADE_{FIELD}` with the field's default, its help text in `setting(…, help=…)`;
- `build`: the channel from its settings (`public_url` is the installation's own);
- `window_s`: how long a send waits for its confirmation;
- `provider_account`: the installation's account at the provider, for channels without
  per-account bots (None for bot channels, whose senders are the accounts' bots);
- `webhook`: the route that takes the provider's callbacks, if any;
- `bots`: for channels whose recipients are users of an account's bot, known only through
  contacts: the bot's credential kind and what a missing contact means;
- `demo`: how `cascade up` runs the channel against its simulator.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx

from cascade.channels.base import Channel, WebhookRoute
from cascade.domain.content import Content
from cascade.domain.sending import Limits, Sender

S = TypeVar("S")


def setting(default: Any, help: str) -> Any:
    """A channel setting's field: its default and what it means (`cascade --help`)."""
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True, slots=True)
class BotChannel:
    """A channel that reaches people as users of an account's bot."""

    kind: str  # the bots' kind in `cascade bots add KIND`
    # points a bot's updates at `url` through the platform's own call
    set_webhook: Callable[[Any, Sender, str], Awaitable[object]]
    refused: type[Exception]  # what the platform's refusal raises
    chat_source: int  # ChatHub's number for chats on it (SPEC E3 `source`)


# A simulator's servers for `cascade up`: entered, it listens (for ASGI apps, it yields
# them with their ports, to be served by `up`); left, it stops.
Serve = Callable[[str, int, S], AbstractAsyncContextManager[Sequence[tuple[Any, int]]]]


@dataclass(frozen=True, slots=True)
class Demo(Generic[S]):
    """How `cascade up` runs a channel against its simulator, in the simulators' process."""

    simulator: str  # its name, as `cascade simulate` and `up`'s banner know it
    # (host, first port, the channel's settings) -> its servers; it takes `ports` ports
    serve: Serve[S]
    # the channel's settings pointed at the simulator (base URL, host, first port) with
    # the demo's provider account; the fields the environment set stay as they are
    configure: Callable[[S, str, str, int, frozenset[str]], S]
    ports: int = 1
    # what an operator does in the provider's console: point its reports at Cascade
    # (http, simulator base URL, Cascade's public URL)
    connect: Callable[[httpx.AsyncClient, str, str], Awaitable[None]] | None = None
    # bot channels: the demo bot's token, and the simulated people who meet the bot the
    # real way (http, simulator base URL)
    bot_token: str | None = None
    onboard: Callable[[httpx.AsyncClient, str], Awaitable[None]] | None = None


@dataclass(frozen=True, slots=True)
class ChannelSpec(Generic[S]):
    name: str
    limits: Limits
    settings: type[S]
    build: Callable[[S, str], Channel]
    window_s: Callable[[S], int]
    provider_account: Callable[[S], Sender] | None = None
    webhook: WebhookRoute | None = None
    bots: BotChannel | None = None
    demo: Demo[S] | None = None
    on_by_default: bool = False  # in CASCADE_CHANNELS when it is not set
    parts: Callable[[Content], int] = lambda content: 1
    pattern: Callable[[S, Content], str | None] = lambda settings, content: None


def setting_fields(spec: ChannelSpec[Any]) -> tuple[dataclasses.Field[Any], ...]:
    return dataclasses.fields(spec.settings)


def setting_help(spec: ChannelSpec[Any]) -> dict[str, str]:
    """Field name -> help text, for the documentation and `cascade --help`."""
    return {f.name: f.metadata.get("help", "") for f in setting_fields(spec)}


@asynccontextmanager
async def asgi_simulator(app: Any, port: int) -> AsyncIterator[Sequence[tuple[Any, int]]]:
    """A simulator that is one ASGI app: `up` serves it on `port`."""
    yield [(app, port)]


def unless_set(explicit: frozenset[str], **values: Any) -> dict[str, Any]:
    """The demo's values for the fields the environment did not set."""
    return {name: value for name, value in values.items() if name not in explicit}
