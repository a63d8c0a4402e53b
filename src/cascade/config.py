"""The one configuration object, read from `CASCADE_*` environment variables.

Every variable is listed in `FIELDS` with its default and meaning; README.md's
configuration reference is this table.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields


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
    log_level: str = "info"
    telegram_api_url: str = "https://api.telegram.org"
    viber_api_url: str = "https://chatapi.viber.com"
    viber_bot_window_s: int = 600
    channels: str = "telegram,viber_bot"
    # Viber Business Messages through Vonage's Messages API
    viber_business_api_url: str = "https://api.nexmo.com"
    viber_business_api_key: str = ""
    viber_business_api_secret: str = ""
    viber_business_service_id: str = ""
    viber_business_signature_secret: str = ""
    viber_business_window_s: int = 600
    # RCS Business Messaging
    rcs_api_url: str = "https://rcsbusinessmessaging.googleapis.com/v1"
    rcs_agent_id: str = ""
    rcs_service_account_file: str = ""
    rcs_token_uri: str = ""
    rcs_client_token: str = ""
    rcs_window_s: int = 600
    # SMS over SMPP 3.4
    smpp_host: str = "127.0.0.1"
    smpp_port: int = 2775
    smpp_system_id: str = ""
    smpp_password: str = ""
    smpp_system_type: str = ""
    smpp_window: int = 10
    sms_sender: str = ""
    sms_window_s: int = 3600
    # flash calls through Twilio Programmable Voice
    flashcall_api_url: str = "https://api.twilio.com"
    flashcall_account_sid: str = ""
    flashcall_auth_token: str = ""
    flashcall_caller_prefix: str = ""
    flashcall_code_length: int = 4
    channel_rates: str = "on"
    worker_batch: int = 256
    worker_concurrency: int = 256
    worker_batches_in_flight: int = 2
    worker_lease_s: float = 30.0
    allow_private_callbacks: bool = False

    @property
    def enabled_channels(self) -> tuple[str, ...]:
        return tuple(name.strip() for name in self.channels.split(",") if name.strip())

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for field in fields(cls):
            raw = env.get(f"CASCADE_{field.name.upper()}")
            if raw is None or raw == "":
                continue
            kind = field.type if isinstance(field.type, str) else field.type.__name__
            try:
                if kind == "int":
                    values[field.name] = int(raw)
                elif kind == "float":
                    values[field.name] = float(raw)
                elif kind == "bool":
                    values[field.name] = _flag(raw)
                else:
                    values[field.name] = raw
            except ValueError:
                raise ValueError(
                    f"CASCADE_{field.name.upper()} must be a {kind}: {raw!r}"
                ) from None
        return cls(**values)  # type: ignore[arg-type]


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _flag(raw: str) -> bool:
    word = raw.strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise ValueError(raw)


# name → meaning, for the documentation and `cascade --help`.
FIELDS: Mapping[str, str] = {
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
    "log_level": "debug, info, warning or error",
    "telegram_api_url": "Telegram Bot API base URL (a simulator's, for tests and the demo)",
    "viber_api_url": "Viber REST Bot API base URL",
    "viber_bot_window_s": "seconds to wait for a Viber `delivered` callback before moving on",
    "channels": "comma-separated channels this installation runs: telegram, viber_bot, "
    "viber_business, rcs, sms, flashcall (others are skipped as not configured)",
    "viber_business_api_url": "Vonage Messages API base URL (Viber Business Messages)",
    "viber_business_api_key": "Vonage API key",
    "viber_business_api_secret": "Vonage API secret",
    "viber_business_service_id": "the Viber service id messages are sent from",
    "viber_business_signature_secret": "Vonage signature secret (status webhooks are signed JWTs)",
    "viber_business_window_s": "seconds to wait for a Viber Business delivery report",
    "rcs_api_url": "RCS Business Messaging API base URL",
    "rcs_agent_id": "the RBM agent id",
    "rcs_service_account_file": "path of the agent's service-account key (JSON)",
    "rcs_token_uri": "OAuth token endpoint (default: the key's own, Google's)",
    "rcs_client_token": "the webhook client token set in the RBM console",
    "rcs_window_s": "seconds to wait for an RBM DELIVERED event; then the message is revoked",
    "smpp_host": "SMSC host",
    "smpp_port": "SMSC port",
    "smpp_system_id": "SMPP system_id",
    "smpp_password": "SMPP password",
    "smpp_system_type": "SMPP system_type",
    "smpp_window": "submit_sm PDUs outstanding at once",
    "sms_sender": "numeric source address when fromName cannot be an alphanumeric sender",
    "sms_window_s": "seconds to wait for an SMS delivery receipt",
    "flashcall_api_url": "Twilio API base URL",
    "flashcall_account_sid": "Twilio AccountSid",
    "flashcall_auth_token": "Twilio AuthToken (also checks status callback signatures)",
    "flashcall_caller_prefix": "caller numbers are this prefix + the code's digits",
    "flashcall_code_length": "digits of a flash-call code (4-6)",
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
}
