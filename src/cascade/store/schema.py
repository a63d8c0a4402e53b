"""The tables, as SQLAlchemy Core metadata. Alembic migrations create them; this module
is what queries are written against. Times are epoch milliseconds (UTC)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants a BIGINT identity.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("default_from_name", sa.String(28), nullable=False),
    sa.Column("send_rate", sa.Float),
    sa.Column("send_burst", sa.Integer),
    sa.Column("status_rate", sa.Float),
    sa.Column("status_burst", sa.Integer),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("revoked_at", sa.BigInteger),
)

bots = sa.Table(
    "bots",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("token", sa.Text, nullable=False),  # needed to call the platform; never returned
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("revoked_at", sa.BigInteger),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("tracking_id", sa.String(255), nullable=False),
    sa.Column("fingerprint", sa.LargeBinary(16), nullable=False),
    sa.Column("route", sa.String(16), nullable=False),
    sa.Column("message_type", sa.String(16), nullable=False),
    sa.Column("from_name", sa.String(28), nullable=False),
    sa.Column("phone", sa.String(16), nullable=False),
    sa.Column("text", sa.Text),
    sa.Column("survey_options", sa.Text),  # JSON array, viber_survey only
    sa.Column("fallback", sa.Text),  # JSON object, flashcall only
    sa.Column("ttl", sa.Integer, nullable=False),
    sa.Column("telegram_bot_id", sa.String(36)),
    sa.Column("viber_bot_id", sa.String(36)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("channel", sa.String(32)),
    sa.Column("reason", sa.String(64)),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("scheduled_at", sa.BigInteger),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("account_id", "tracking_id", name="uq_messages_account_tracking"),
)

# One row per piece of delivery work that is due; the engine claims them under leases.
tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(36), sa.ForeignKey("messages.id"), nullable=False),
    sa.Column("due_at", sa.BigInteger, nullable=False),
    sa.Column("lease_owner", sa.String(64)),
    sa.Column("lease_until", sa.BigInteger),
    sa.Column("tries", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_tasks_due_at", "due_at"),
)

attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(36), sa.ForeignKey("messages.id"), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(64)),
    sa.Column("provider_message_id", sa.String(128)),
    sa.Column("started_at", sa.BigInteger, nullable=False),
    sa.Column("finished_at", sa.BigInteger),
    sa.Index("ix_attempts_message_id", "message_id"),
)

variables = sa.Table(
    "variables",
    metadata,
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id"), primary_key=True),
    sa.Column("type", sa.String(16), primary_key=True),  # "" for untyped
    sa.Column("var_id", sa.Integer, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)

short_links = sa.Table(
    "short_links",
    metadata,
    sa.Column("code", sa.String(16), primary_key=True),
    sa.Column("message_id", sa.String(36), sa.ForeignKey("messages.id"), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Index("ix_short_links_message_id", "message_id"),
)

clicks = sa.Table(
    "clicks",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("code", sa.String(16), sa.ForeignKey("short_links.code"), nullable=False),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Column("user_agent", sa.Text),
    sa.Index("ix_clicks_code", "code"),
)
