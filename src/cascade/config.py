"""The one configuration object, read from `CASCADE_*` environment variables.

Every variable is listed in `FIELDS` with its meaning: the installation's own here, each
channel's from its spec (`cascade.channels.registry`); README.md's configuration
reference is this table.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import Field, dataclass, field, fields, replace
from typing import Any, TypeVar

from cascade.channels.registry import CHANNELS
from cascade.channels.spec import ChannelSpec, setting_fields, setting_help
from cascade.logs import FORMATS as LOG_FORMATS

S = TypeVar("S")

DEFAULT_CHANNELS = tuple(spec.name for spec in CHANNELS if spec.on_by_default)


def _channel_defaults() -> dict[str, Any]:
    return {spec.name: spec.settings() for spec in CHANNELS}


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = "sqlite:///./cascade.db"
    public_url: str = "http://127.0.0.1:8080"
    redis_url: str | None = None
    max_body_bytes: int = 32 * 1024 * 1024
    send_rate: float = 100.0
    send_burst: int = 150
    status_rate: float = 50.0
    status_burst: int = 75
    auth_cache_seconds: float = 2.0
    sqlite_synchronous: str = "FULL"
    db_pool_size: int = 10
    demo_key: str | None = None
    demo_login: str = "demo"
    demo_password: str | None = None
    log_level: str = "info"
    log_format: str = "text"
    channels: str = field(default_factory=lambda: ",".join(DEFAULT_CHANNELS))
    # each channel's own settings (its spec's `settings`), by channel name
    channel_settings: Mapping[str, Any] = field(default_factory=_channel_defaults)
    channel_rates: str = "on"
    worker_batch: int = 256
    worker_concurrency: int = 256
    worker_batches_in_flight: int = 2
    worker_lease_s: float = 30.0
    allow_private_callbacks: bool = False
    jwt_secret: str | None = None
    company_token_seconds: int = 86_400
    widget_origins: str = "*"
    metrics_port: int = 0
    metrics_host: str = "127.0.0.1"
    metrics_account_labels: int = 100
    console_secret: str | None = None
    console_session_minutes: int = 480
    console_secure_cookie: str = "auto"
    # an operator's upload at its public URL (Viber fetches it): per client address
    public_media_rate: float = 5.0
    public_media_burst: int = 20
    # failed password sign-ins (console, ChatHub get-token, /bat Basic): bursts, then one
    # more every so many seconds
    sign_in_login_burst: int = 10
    sign_in_login_interval_s: float = 6.0
    sign_in_address_burst: int = 30
    sign_in_address_interval_s: float = 2.0
    widget_demo: bool = False

    @property
    def console_cookie_secure(self) -> bool:
        """Whether the console's session cookie is sent over HTTPS only."""
        flag = self.console_secure_cookie.strip().lower()
        if flag == "auto":
            return self.public_url.lower().startswith("https://")
        return _flag(flag)

    def __post_init__(self) -> None:
        if self.log_format not in LOG_FORMATS:
            raise ValueError(
                f"CASCADE_LOG_FORMAT must be {' or '.join(LOG_FORMATS)}: {self.log_format!r}"
            )
        # every rate a limiter enforces (a zero one would divide by zero on each request)
        for name in (
            "send_rate",
            "status_rate",
            "public_media_rate",
            "sign_in_login_interval_s",
            "sign_in_address_interval_s",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{env_name(name)} must be more than 0")
        for name in (
            "send_burst",
            "status_burst",
            "public_media_burst",
            "sign_in_login_burst",
            "sign_in_address_burst",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{env_name(name)} must be at least 1")

    @property
    def enabled_channels(self) -> tuple[str, ...]:
        return tuple(name.strip() for name in self.channels.split(",") if name.strip())

    def of(self, spec: ChannelSpec[S]) -> S:
        """The channel's own settings."""
        found: S = self.channel_settings[spec.name]
        return found

    def with_channel(self, spec: ChannelSpec[S], **changes: Any) -> Settings:
        """These settings with some of one channel's changed."""
        changed = replace(self.of(spec), **changes)  # type: ignore[type-var]
        return replace(self, channel_settings={**self.channel_settings, spec.name: changed})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        own = [f for f in fields(cls) if f.name != "channel_settings"]
        values = _read(own, env)
        values["channel_settings"] = {
            spec.name: spec.settings(**_read(setting_fields(spec), env)) for spec in CHANNELS
        }
        return cls(**values)


def env_name(name: str) -> str:
    return f"CASCADE_{name.upper()}"


def _read(
    wanted: list[Field[Any]] | tuple[Field[Any], ...], env: Mapping[str, str]
) -> dict[str, Any]:
    """The fields the environment sets, converted to their types."""
    values: dict[str, Any] = {}
    for f in wanted:
        raw = env.get(env_name(f.name))
        if raw is None or raw == "":
            continue
        kind = f.type if isinstance(f.type, str) else f.type.__name__
        try:
            if kind == "int":
                values[f.name] = int(raw)
            elif kind == "float":
                values[f.name] = float(raw)
            elif kind == "bool":
                values[f.name] = _flag(raw)
            else:
                values[f.name] = raw
        except ValueError:
            raise ValueError(f"{env_name(f.name)} must be a {kind}: {raw!r}") from None
    return values


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _flag(raw: str) -> bool:
    word = raw.strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise ValueError(raw)


# name → meaning, for the documentation and `cascade --help`.
_OWN_FIELDS: Mapping[str, str] = {
    "database_url": "SQLAlchemy URL: sqlite:///path.db (default ./cascade.db) or "
    "postgresql://user@host/db",
    "public_url": "base URL that short links are built on (`{public_url}/s/{code}`)",
    "redis_url": "when set, rate limits are shared through this Redis by all API processes",
    "max_body_bytes": "largest accepted request body; larger is 413",
    "send_rate": "default requests/s per account on the send endpoints",
    "send_burst": "default burst per account on the send endpoints",
    "status_rate": "default requests/s per account on the status endpoints",
    "status_burst": "default burst per account on the status endpoints",
    "auth_cache_seconds": "how long a resolved credential is cached in an API process "
    "(a revoked key stops working within this time)",
    "sqlite_synchronous": "SQLite `PRAGMA synchronous` (FULL: a 200 survives power loss)",
    "db_pool_size": "connections per process (PostgreSQL)",
    "demo_key": "API key of the demo account that `cascade up` creates (else generated)",
    "demo_login": "login of the demo account that `cascade up` creates, for HTTP Basic on "
    "the core SMSBAT API",
    "demo_password": "that login's password (else generated, and printed, at every `up`)",
    "log_level": "debug, info, warning or error",
    "log_format": "text (a line a record) or json (an object a line: time, level, logger, "
    "message, and message_id and account on lines about a message)",
    "channels": "comma-separated channels this installation runs: "
    + ", ".join(spec.name for spec in CHANNELS)
    + " (others are skipped as not configured)",
    "channel_rates": "on: pace sends to each channel's declared rates; off: only obey the "
    "provider's own throttling answers",
    "worker_batch": "messages a worker claims per cycle",
    "worker_concurrency": "sends in flight per worker process",
    "worker_batches_in_flight": "claimed batches a worker sends at once (1: claim the next "
    "only when a batch is done)",
    "worker_lease_s": "how long a claimed message is held before another worker may take it",
    "allow_private_callbacks": "0: status webhook URLs must resolve to public addresses only; "
    "1: loopback and private ones too, for tests and receivers inside your network (never "
    "link-local or cloud metadata); `cascade up` defaults to 1",
    "jwt_secret": "ChatHub's JWT signing key (HS256, at least 32 bytes); unset: one is "
    "generated and kept in the database, shared by every API process",
    "company_token_seconds": "how long a ChatHub company token lives (operator tokens: "
    "as asked, at most 24 h)",
    "widget_origins": "origins whose pages may load the operator chat panel and call "
    "ChatHub from the browser (CORS): * for any (the default; tokens are bearer tokens, "
    "never cookies), or a list such as https://crm.example.com,https://portal.example.com",
    "metrics_port": "`cascade worker`: serve GET /metrics on this port (0: none; API "
    "processes serve /metrics on their own port)",
    "metrics_host": "the address `cascade worker`'s metrics port listens on",
    "metrics_account_labels": "how many accounts a process labels by id in the metrics; "
    'later ones are counted as account="other" (0: all of them)',
    "console_secret": "the key that signs the console's session cookies (at least 32 "
    "bytes); unset: one is generated and kept in the database, shared by every API process",
    "console_session_minutes": "how long a console sign-in lasts",
    "console_secure_cookie": "auto: the console's session cookie is Secure (HTTPS only) "
    "when the public URL is https; 1 or 0 to say so",
    "public_media_rate": "requests/s one client address may make for operators' uploads at "
    "their public URL (/api/chat/media/public/…, which Viber fetches); more is 429",
    "public_media_burst": "burst of those requests per client address",
    "sign_in_login_burst": "failed password sign-ins one login may have at once (the "
    "console, ChatHub's get-token, HTTP Basic on /bat); more is 429",
    "sign_in_login_interval_s": "after those, one more failed sign-in per login every so "
    "many seconds",
    "sign_in_address_burst": "failed password sign-ins one client address may make at once",
    "sign_in_address_interval_s": "after those, one more per address every so many seconds",
    "widget_demo": "1: serve the operator chat panel's demo page at /widget/demo (a "
    "sign-in form for a company login); `cascade up` turns it on",
}

FIELDS: Mapping[str, str] = {
    **_OWN_FIELDS,
    **{name: text for spec in CHANNELS for name, text in setting_help(spec).items()},
}
