"""The composition root: the one place where settings become a running system.

Tests call these builders with their own clock, store, limiter or channels; the servers
call `asgi_app()` (a factory, so each server worker process builds its own).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from litestar import Litestar, Router

from cascade.api.app import Services, create_app
from cascade.api.auth import Authenticator
from cascade.api.bat.intake import BatIntake
from cascade.api.bat.routes import bat_router
from cascade.api.chathub.conversations import ChatHubPrincipal, Conversations
from cascade.api.chathub.hub import Authenticate, Bus, Hub, LocalBus, PgBus, RedisBus, hub_router
from cascade.api.chathub.routes import chathub_router
from cascade.api.chathub.tokens import ChatAuth, ChatPrincipal, Tokens
from cascade.api.chathub.widget import CorsPolicy, chathub_surface, widget_router
from cascade.api.chathub.widget.demo import demo_router
from cascade.api.console import Console, Sessions, console_router
from cascade.api.dry_run import DryRun
from cascade.api.intake import Intake
from cascade.api.ratelimit import Limiter, MemoryLimiter, RedisLimiter
from cascade.api.sign_in_throttle import SignInThrottle
from cascade.callback_url import CallbackUrlPolicy, Resolve, resolve_host
from cascade.channels.base import Channel, WebhookHandler, Windowed
from cascade.channels.bot_chat import BotChat
from cascade.channels.registry import (
    BY_NAME,
    CHANNELS,
    CHAT_CHANNELS,
    CHAT_SOURCES,
    SOURCE_OF_CHANNEL,
    SPEND_BASELINE,
)
from cascade.clock import Clock, SystemClock
from cascade.config import Settings
from cascade.domain.content import Content, ContentKind
from cascade.domain.events import Event
from cascade.domain.planner import ChannelInfo
from cascade.domain.ratelimit import Rate
from cascade.domain.sending import Sender
from cascade.engine.callbacks import CallbackDispatcher
from cascade.engine.inbound import apply_events
from cascade.engine.runner import Engine
from cascade.engine.wakeup import PgListener
from cascade.engine.webhook_cost import WebhookCost
from cascade.engine.worker import Worker, WorkerConfig
from cascade.observer import NO_OBSERVER, Observer
from cascade.security import new_link_code
from cascade.store.migrate import head_revision
from cascade.store.price_book import PriceBook
from cascade.store.sql import SqlStore

if TYPE_CHECKING:
    from cascade.metrics import Metrics

WEBHOOKS: Mapping[str, WebhookHandler] = {
    spec.webhook.channel: spec.webhook.handler for spec in CHANNELS if spec.webhook is not None
}
# what each channel carries, for the core API's intake (SPEC D3: 1006)
CARRIES: Mapping[str, frozenset[ContentKind]] = {
    spec.name: spec.limits.carries for spec in CHANNELS
}


def content_parts(channel: str, content: Content) -> int:
    """How many parts a step's content goes out as on `channel` (SMS segments; else 1)."""
    spec = BY_NAME.get(channel)
    return spec.parts(content) if spec is not None else 1


def content_pattern(settings: Settings) -> Callable[[str, Content], str | None]:
    """What the core API's answer shows of a step's content on `channel` before it is sent
    (a flash call's `pattern`), by the channel's settings."""

    def pattern(channel: str, content: Content) -> str | None:
        spec = BY_NAME.get(channel)
        return spec.pattern(settings.of(spec), content) if spec is not None else None

    return pattern


def build_store(settings: Settings, clock: Clock) -> SqlStore:
    return SqlStore(
        settings.database_url,
        clock,
        sqlite_synchronous=settings.sqlite_synchronous,
        pool_size=settings.db_pool_size,
    )


def build_metrics(
    settings: Settings, clock: Clock, store: SqlStore, *, wait_for_store: bool = False
) -> Metrics:
    """The process's metrics: counted into by the API, the engine and `store` (reports), and
    reading the backlog and the chats from `store` when scraped (`wait_for_store`: each
    scrape waits until they are read, for tests). Under `cascade api --workers N`, in the
    multiprocess mode of the directory `cascade api` made.

    prometheus-client is imported here, not with this module: it picks its multiprocess
    mode when imported, and `cascade api` imports this module (for its logging) before it
    names the directory its server processes will count in."""
    from cascade.metrics import STORE_WAIT_S, Metrics

    metrics = Metrics(
        clock,
        account_labels=settings.metrics_account_labels,
        multiprocess_dir=os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None,
        store_wait_s=None if wait_for_store else STORE_WAIT_S,
    )
    metrics.watch_store(store.figures)
    store.observer = metrics
    return metrics


def build_limiter(settings: Settings, clock: Clock) -> Limiter:
    if settings.redis_url:
        return RedisLimiter(settings.redis_url)
    return MemoryLimiter(clock)


def sign_in_throttle(settings: Settings, limiter: Limiter) -> SignInThrottle:
    """Failed password sign-ins, per client address and per login, in `limiter`."""
    return SignInThrottle(
        limiter,
        per_address=Rate(1 / settings.sign_in_address_interval_s, settings.sign_in_address_burst),
        per_login=Rate(1 / settings.sign_in_login_interval_s, settings.sign_in_login_burst),
    )


def build_channels(settings: Settings) -> dict[str, Channel]:
    """The channels this installation runs (CASCADE_CHANNELS), each with its one pooled HTTP
    client (or, for SMS, its SMPP session)."""
    unknown = set(settings.enabled_channels) - set(BY_NAME)
    if unknown:
        raise ValueError(f"CASCADE_CHANNELS names unknown channels: {', '.join(sorted(unknown))}")
    return {
        name: BY_NAME[name].build(settings.of(BY_NAME[name]), settings.public_url)
        for name in settings.enabled_channels
    }


def provider_accounts(settings: Settings) -> dict[str, Sender]:
    """The installation's provider accounts, for channels that have no per-account bots.

    Each one's webhook is `{public_url}/webhooks/{channel}/{channel}`.
    """
    return {
        spec.name: spec.provider_account(settings.of(spec))
        for spec in CHANNELS
        if spec.provider_account is not None
    }


def windows(settings: Settings) -> dict[str, int]:
    """How long each channel waits for its confirmation."""
    return {spec.name: spec.window_s(settings.of(spec)) for spec in CHANNELS}


def build_worker(
    settings: Settings,
    store: SqlStore,
    clock: Clock,
    channels: Mapping[str, Channel],
    static_senders: Mapping[str, Sender] | None = None,
    observer: Observer = NO_OBSERVER,
) -> Worker:
    return Worker(
        store,
        clock,
        channels,
        windows(settings),
        WorkerConfig(
            batch=settings.worker_batch,
            lease_ms=int(settings.worker_lease_s * 1000),
            concurrency=settings.worker_concurrency,
            batches_in_flight=max(1, settings.worker_batches_in_flight),
            enforce_rates=settings.channel_rates.lower() != "off",
        ),
        static_senders=static_senders
        if static_senders is not None
        else provider_accounts(settings),
        observer=observer,
    )


def callback_policy(settings: Settings, resolve: Resolve | None = None) -> CallbackUrlPolicy:
    """Which status-webhook URLs are registered and called (tests bring their resolver)."""
    return CallbackUrlPolicy(
        allow_private=settings.allow_private_callbacks, resolve=resolve or resolve_host
    )


def build_engine(
    settings: Settings,
    store: SqlStore,
    channels: Mapping[str, Channel],
    clock: Clock | None = None,
    static_senders: Mapping[str, Sender] | None = None,
    metrics: Metrics | None = None,
) -> Engine:
    """A worker, the status-webhook dispatcher and, on PostgreSQL, the LISTEN/NOTIFY
    listener that wakes the worker: `cascade worker`, and the engine inside `cascade up`.
    `metrics` is counted into, and shows the channels' windows when scraped."""
    clock = clock or SystemClock()
    observer: Observer = metrics if metrics is not None else NO_OBSERVER
    if metrics is not None:
        metrics.watch_windows(
            {name: ch.window for name, ch in channels.items() if isinstance(ch, Windowed)}
        )
    worker = build_worker(settings, store, clock, channels, static_senders, observer)
    return Engine(
        store,
        channels,
        worker,
        CallbackDispatcher(
            store,
            clock,
            policy=callback_policy(settings),
            complete=WebhookCost(store, PriceBook(store, clock)),
            observer=observer,
        ),
        PgListener(settings.database_url, worker.wake) if store.dialect == "postgresql" else None,
    )


def build_bus(settings: Settings) -> Bus:
    """How hub events reach every API process: Redis when configured, else the PostgreSQL
    store's notifications, else (SQLite: one process) in process."""
    if settings.redis_url:
        return RedisBus(settings.redis_url)
    if settings.database_url.startswith("postgresql"):
        return PgBus(settings.database_url)
    return LocalBus()


def build_hub(settings: Settings, clock: Clock, authenticate: Authenticate) -> Hub:
    """The ChatHub hub of one API process (SPEC E4); the chat code registers its methods."""
    return Hub(authenticate, build_bus(settings), clock)


def chat_authenticate(chat_auth: ChatAuth) -> Authenticate:
    """Who a hub connection is: a company or operator JWT (SPEC E1), else an API key (a
    company, as `X-Authorization-Key` is wherever a company token is)."""

    async def authenticate(token: str) -> ChatHubPrincipal | None:
        found = await chat_auth.chat_principal(token)
        if found is None:
            by_key = await chat_auth.authenticate({"x-authorization-key": token})
            found = by_key if isinstance(by_key, ChatPrincipal) else None
        return ChatHubPrincipal(found) if found is not None else None

    return authenticate


def build_chat_channels(settings: Settings) -> dict[str, BotChat]:
    """The enabled bot channels that carry chats (Telegram, Viber bots), for an API
    process's operators' answers and people's media: each with its own HTTP client."""
    found: dict[str, BotChat] = {}
    for name in CHAT_SOURCES.values():
        if name in settings.enabled_channels and name in BY_NAME:
            channel = BY_NAME[name].build(settings.of(BY_NAME[name]), settings.public_url)
            if isinstance(channel, BotChat):
                found[name] = channel
    return found


def baseline_parts(text: str | None) -> int:
    """How many parts a text takes on the spend baseline's channel (SMS segments)."""
    return SPEND_BASELINE.parts(Content(text=text or ""))


def build_console(
    settings: Settings, store: SqlStore, clock: Clock, auth: Authenticator, prices: PriceBook
) -> Router:
    """The console at /console (SPEC F), signed in with the account's logins."""
    sessions = Sessions(
        store,
        clock,
        settings.console_secret,
        settings.console_session_minutes * 60,
        secure=settings.console_cookie_secure,
    )
    return console_router(
        Console(
            store=store,
            auth=auth,
            clock=clock,
            sessions=sessions,
            prices=prices,
            channels=tuple(spec.name for spec in CHANNELS),
            baseline_channel=SPEND_BASELINE.name,
            baseline_parts=baseline_parts,
        )
    )


def build_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    store: SqlStore | None = None,
    limiter: Limiter | None = None,
    wake: Callable[[], None] | None = None,
    callback_resolve: Resolve | None = None,
    hub: Hub | None = None,
    chat_channels: Mapping[str, BotChat] | None = None,
    metrics: Metrics | None = None,
) -> Litestar:
    """The API of one process; `metrics` (else its own) is counted into and served at
    `/metrics` (`cascade up` shares one with its engine)."""
    clock = clock or SystemClock()
    store = store or build_store(settings, clock)
    metrics = metrics or build_metrics(settings, clock, store)
    limiter = limiter or build_limiter(settings, clock)
    bound_store = store
    auth = Authenticator(
        store, clock, settings.auth_cache_seconds, throttle=sign_in_throttle(settings, limiter)
    )
    chat_auth = build_chat_auth(settings, store, clock, auth)
    hub = hub or build_hub(settings, clock, chat_authenticate(chat_auth))
    owned_channels = build_chat_channels(settings) if chat_channels is None else {}
    conversations = Conversations(
        store,
        hub,
        chat_channels or owned_channels,
        clock,
        settings.public_url,
        SOURCE_OF_CHANNEL,
    )
    conversations.register(hub)

    async def on_events(events: Sequence[Event]) -> None:
        applied = await apply_events(bound_store, events, wake, CHAT_CHANNELS)
        try:  # stored already: a live event that cannot go out is only logged
            for arrival in applied.arrivals:
                await conversations.announce_arrival(arrival)
            for entry in applied.receipts:
                await conversations.announce_status(entry)
        except Exception:
            logging.getLogger(__name__).exception("chathub: announcing events failed")

    async def close_channels() -> None:
        for channel in owned_channels.values():
            close = getattr(channel, "aclose", None)
            if close is not None:
                await close()

    # one price table per process (dry runs, /bat, the console), read again after a load (D9)
    prices = PriceBook(store, clock)
    static_senders = provider_accounts(settings)
    route_channels = {
        name: ChannelInfo(BY_NAME[name].limits, window)
        for name, window in windows(settings).items()
        if name in settings.enabled_channels
    }
    services = Services(
        store=store,
        clock=clock,
        auth=auth,
        limiter=limiter,
        intake=Intake(store, clock, settings.public_url, new_link_code, metrics),
        dry_run=DryRun(store, route_channels, static_senders, content_parts, prices),
        send_rate=Rate(settings.send_rate, settings.send_burst),
        status_rate=Rate(settings.status_rate, settings.status_burst),
        max_body_bytes=settings.max_body_bytes,
        head_revision=head_revision(),
        webhooks=WEBHOOKS,
        on_events=on_events,
        wake=wake,
        static_senders=static_senders,
        public_url=settings.public_url,
        callback_urls=callback_policy(settings, callback_resolve),
        observer=metrics,
        metrics=metrics,
    )
    bat = BatIntake(
        store, clock, CARRIES, content_parts, content_pattern(settings), observer=metrics
    )
    return create_app(
        services,
        on_startup=[conversations.fetcher.start],
        on_shutdown=[
            conversations.fetcher.stop,
            hub.close,
            close_channels,
            store.close,
            limiter.close,
        ],
        routers=[
            bat_router(services, bat, content_parts, prices),
            # ChatHub's routers, callable from the widget's pages on other origins (E5)
            chathub_surface(
                CorsPolicy.of(settings.widget_origins),
                [
                    chathub_router(
                        services,
                        store,
                        chat_auth,
                        settings.company_token_seconds,
                        conversations,
                        public_media_rate=Rate(
                            settings.public_media_rate, settings.public_media_burst
                        ),
                    ),
                    hub_router(hub),
                    widget_router(),
                    *([demo_router(settings.demo_login)] if settings.widget_demo else []),
                ],
            ),
            build_console(settings, store, clock, auth, prices),
        ],
    )


def build_chat_auth(
    settings: Settings, store: SqlStore, clock: Clock, keys: Authenticator
) -> ChatAuth:
    """ChatHub's tokens and who a request or hub connection is (SPEC E1)."""
    return ChatAuth(store, Tokens(store, clock, settings.jwt_secret), keys)


def configure_logging(settings: Settings) -> None:
    """Every logger's lines to stderr, as CASCADE_LOG_LEVEL and CASCADE_LOG_FORMAT say."""
    from cascade import logs

    logs.configure(settings.log_level, settings.log_format)


def asgi_app() -> Litestar:
    """Factory for the ASGI servers: configuration from the environment."""
    settings = Settings.from_env()
    configure_logging(settings)
    return build_app(settings)
