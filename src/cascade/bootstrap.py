"""The composition root: the one place where settings become a running system.

Tests call these builders with their own clock, store, limiter or channels; the servers
call `asgi_app()` (a factory, so each server worker process builds its own).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from litestar import Litestar

from cascade.api.app import Services, create_app
from cascade.api.auth import Authenticator
from cascade.api.intake import Intake
from cascade.api.ratelimit import Limiter, MemoryLimiter, RedisLimiter
from cascade.callback_url import CallbackUrlPolicy, Resolve, resolve_host
from cascade.channels import flashcall, rcs, sms, telegram, viber_bot, viber_business
from cascade.channels.base import Channel, WebhookHandler
from cascade.clock import Clock, SystemClock
from cascade.config import Settings
from cascade.domain.events import Event
from cascade.domain.ratelimit import Rate
from cascade.domain.sending import Sender
from cascade.engine.callbacks import CallbackDispatcher
from cascade.engine.inbound import apply_events
from cascade.engine.runner import Engine
from cascade.engine.wakeup import PgListener
from cascade.engine.worker import Worker, WorkerConfig
from cascade.security import new_link_code
from cascade.store.migrate import head_revision
from cascade.store.sql import SqlStore

WEBHOOKS: Mapping[str, WebhookHandler] = {
    route.channel: route.handler
    for route in (
        telegram.WEBHOOK_ROUTE,
        viber_bot.WEBHOOK_ROUTE,
        viber_business.WEBHOOK_ROUTE,
        rcs.WEBHOOK_ROUTE,
        flashcall.WEBHOOK_ROUTE,
    )
}


def build_store(settings: Settings, clock: Clock) -> SqlStore:
    return SqlStore(
        settings.database_url,
        clock,
        sqlite_synchronous=settings.sqlite_synchronous,
        pool_size=settings.db_pool_size,
    )


def build_limiter(settings: Settings, clock: Clock) -> Limiter:
    if settings.redis_url:
        return RedisLimiter(settings.redis_url)
    return MemoryLimiter(clock)


def build_channels(
    settings: Settings, *, rcs_key: Mapping[str, Any] | None = None
) -> dict[str, Channel]:
    """The channels this installation runs, each with its one pooled HTTP client (or, for
    SMS, its SMPP session). `rcs_key` overrides the service-account key file."""

    def rcs_channel() -> Channel:
        key = rcs_key
        if key is None:
            if not settings.rcs_service_account_file:
                raise ValueError("rcs needs CASCADE_RCS_SERVICE_ACCOUNT_FILE")
            key = json.loads(Path(settings.rcs_service_account_file).read_text())
        tokens = rcs.ServiceAccountTokens.from_info(key, token_uri=settings.rcs_token_uri or None)
        return rcs.RcsChannel(settings.rcs_api_url, agent_id=settings.rcs_agent_id, tokens=tokens)

    available: dict[str, Callable[[], Channel]] = {
        "telegram": lambda: telegram.TelegramChannel(settings.telegram_api_url),
        "viber_bot": lambda: viber_bot.ViberBotChannel(settings.viber_api_url),
        "viber_business": lambda: viber_business.ViberBusinessChannel(
            settings.viber_business_api_url,
            settings.viber_business_api_key,
            settings.viber_business_api_secret,
            settings.viber_business_service_id,
            settings.viber_business_signature_secret,
        ),
        "rcs": rcs_channel,
        "sms": lambda: sms.SmsChannel(
            settings.smpp_host,
            settings.smpp_port,
            settings.smpp_system_id,
            settings.smpp_password,
            settings.smpp_system_type,
            window=settings.smpp_window,
            numeric_sender=settings.sms_sender,
        ),
        "flashcall": lambda: flashcall.FlashCallChannel(
            account_sid=settings.flashcall_account_sid,
            auth_token=settings.flashcall_auth_token,
            caller_prefix=settings.flashcall_caller_prefix,
            status_callback_url_base=settings.public_url,
            code_length=settings.flashcall_code_length,
            base_url=settings.flashcall_api_url,
        ),
    }
    unknown = set(settings.enabled_channels) - set(available)
    if unknown:
        raise ValueError(f"CASCADE_CHANNELS names unknown channels: {', '.join(sorted(unknown))}")
    return {name: available[name]() for name in settings.enabled_channels}


def provider_accounts(settings: Settings) -> dict[str, Sender]:
    """The installation's provider accounts, for channels that have no per-account bots.

    Each one's webhook is `{public_url}/webhooks/{channel}/{channel}`.
    """
    return {
        "viber_business": Sender(
            "viber_business",
            f"{settings.viber_business_api_key}:{settings.viber_business_api_secret}",
            settings.viber_business_signature_secret,
        ),
        "rcs": Sender("rcs", "", settings.rcs_client_token),
        "sms": Sender("sms", ""),
        "flashcall": Sender("flashcall", settings.flashcall_auth_token),
    }


def windows(settings: Settings) -> dict[str, int]:
    """How long each channel waits for its confirmation. A flash call waits its whole TTL:
    its fallback goes when the TTL passes unanswered."""
    return {
        "viber_bot": settings.viber_bot_window_s,
        "viber_business": settings.viber_business_window_s,
        "rcs": settings.rcs_window_s,
        "sms": settings.sms_window_s,
        "flashcall": 2_592_000,
    }


def build_worker(
    settings: Settings,
    store: SqlStore,
    clock: Clock,
    channels: Mapping[str, Channel],
    static_senders: Mapping[str, Sender] | None = None,
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
) -> Engine:
    """A worker, the status-webhook dispatcher and, on PostgreSQL, the LISTEN/NOTIFY
    listener that wakes the worker: `cascade worker`, and the engine inside `cascade up`."""
    clock = clock or SystemClock()
    worker = build_worker(settings, store, clock, channels, static_senders)
    return Engine(
        store,
        channels,
        worker,
        CallbackDispatcher(store, clock, policy=callback_policy(settings)),
        PgListener(settings.database_url, worker.wake) if store.dialect == "postgresql" else None,
    )


def build_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    store: SqlStore | None = None,
    limiter: Limiter | None = None,
    wake: Callable[[], None] | None = None,
    callback_resolve: Resolve | None = None,
) -> Litestar:
    clock = clock or SystemClock()
    store = store or build_store(settings, clock)
    limiter = limiter or build_limiter(settings, clock)
    bound_store = store

    async def on_events(events: Sequence[Event]) -> None:
        await apply_events(bound_store, events, wake)

    services = Services(
        store=store,
        clock=clock,
        auth=Authenticator(store, clock, settings.auth_cache_seconds),
        limiter=limiter,
        intake=Intake(store, clock, settings.public_url, new_link_code),
        send_rate=Rate(settings.send_rate, settings.send_burst),
        status_rate=Rate(settings.status_rate, settings.status_burst),
        max_body_bytes=settings.max_body_bytes,
        head_revision=head_revision(),
        webhooks=WEBHOOKS,
        on_events=on_events,
        wake=wake,
        static_senders=provider_accounts(settings),
        public_url=settings.public_url,
        callback_urls=callback_policy(settings, callback_resolve),
    )
    return create_app(services, on_shutdown=[store.close, limiter.close])


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    # httpx logs every request URL at INFO, and Telegram's URLs carry the bot token
    logging.getLogger("httpx").setLevel(logging.WARNING)


def asgi_app() -> Litestar:
    """Factory for the ASGI servers: configuration from the environment."""
    settings = Settings.from_env()
    configure_logging(settings)
    return build_app(settings)
