"""The composition root: the one place where settings become a running system.

Tests call `build_app` with their own clock, store or limiter; the servers call
`asgi_app()` (a factory, so each server worker process builds its own).
"""

from __future__ import annotations

import logging

from litestar import Litestar

from cascade.api.app import Services, create_app
from cascade.api.auth import Authenticator
from cascade.api.intake import Intake
from cascade.api.ratelimit import Limiter, MemoryLimiter, RedisLimiter
from cascade.clock import Clock, SystemClock
from cascade.config import Settings
from cascade.domain.ratelimit import Rate
from cascade.security import new_link_code
from cascade.store.migrate import head_revision
from cascade.store.sql import SqlStore


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


def build_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    store: SqlStore | None = None,
    limiter: Limiter | None = None,
) -> Litestar:
    clock = clock or SystemClock()
    store = store or build_store(settings, clock)
    limiter = limiter or build_limiter(settings, clock)
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
    )
    return create_app(services, on_shutdown=[store.close, limiter.close])


def asgi_app() -> Litestar:
    """Factory for the ASGI servers: configuration from the environment."""
    settings = Settings.from_env()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    return build_app(settings)
