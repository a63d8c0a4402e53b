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
    sa.Column("channel_order", sa.Text),  # comma-separated; NULL: every configured channel
    sa.Column("created_at", sa.BigInteger, nullable=False),
    # when the account was suspended (its credentials still name it, and are refused);
    # NULL: active (migration 0007)
    sa.Column("suspended_at", sa.BigInteger),
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

# An account's logins: HTTP Basic on the core SMSBAT API (SPEC D2). A login name is unique
# across the installation; the password is kept only as an argon2id hash (PHC string).
logins = sa.Table(
    "logins",
    metadata,
    sa.Column("login", sa.String(200), primary_key=True),
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Index("ix_logins_account_id", "account_id"),
)

bots = sa.Table(
    "bots",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),  # the bot channel it sends on
    sa.Column("token", sa.Text, nullable=False),  # needed to call the platform; never returned
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("webhook_secret", sa.String(64), nullable=False),  # Telegram's secret_token
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
    # id-less messages: content fingerprint + day, so a retried request is not sent twice
    sa.Column("idem_key", sa.String(48)),
    sa.Column("route", sa.String(16), nullable=False),
    sa.Column("message_type", sa.String(16), nullable=False),
    sa.Column("from_name", sa.String(28), nullable=False),
    sa.Column("phone", sa.String(16), nullable=False),
    sa.Column("text", sa.Text),
    sa.Column("survey_options", sa.Text),  # JSON array, viber_survey only
    sa.Column("fallback", sa.Text),  # JSON object, flashcall only
    sa.Column("media", sa.Text),  # JSON object: promo image and button (Cascade extension)
    # JSON array of steps (domain.content.Step), empty fields left out: an explicit plan
    # (the core API's primary step and fallbacks, each with its content) instead of a route
    sa.Column("plan", sa.Text),
    sa.Column("ttl", sa.Integer, nullable=False),
    # the bots the request's credentials pinned (ids, comma-separated): each is used for
    # its channel's step instead of the account's first bot of the channel
    sa.Column("pinned_bots", sa.Text),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("step", sa.Integer, nullable=False, server_default="0"),  # index into the route
    sa.Column("channel", sa.String(32)),
    sa.Column("reason", sa.String(64)),
    sa.Column("survey_answer", sa.Text),
    # steps passed over at once, as a JSON array of [step, channel, status, reason,
    # sender id, at]: shown among the attempts, without an attempt row each
    sa.Column("skipped", sa.Text),
    sa.Column("event_seq", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("scheduled_at", sa.BigInteger),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    # the API surface it came through (`cascade`, `bat`): its status webhooks' shape
    sa.Column("surface", sa.String(16), nullable=False, server_default="cascade"),
    sa.Column("list_id", sa.BigInteger),  # its message list (`bat`): message_lists.id
    # when a cancel was asked for while a step was in flight (migration 0015): the engine
    # takes no further step once that step's outcome is known (cascade.domain.cancel)
    sa.Column("cancel_requested_at", sa.BigInteger),
    sa.UniqueConstraint("account_id", "tracking_id", name="uq_messages_account_tracking"),
    sa.UniqueConstraint("account_id", "idem_key", name="uq_messages_account_idem"),
    sa.Index("ix_messages_list", "list_id"),
    # a person's reply finds the account that last wrote to them (migration 0011)
    sa.Index("ix_messages_phone", "phone"),
)

# The core SMSBAT API's requests (SPEC D1, D4): one row per `POST /bat/messagelist`, whose
# integer id the answer carries and each of its messages keeps (`messages.list_id`).
message_lists = sa.Table(
    "message_lists",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

# At most one row per unfinished message: when the engine must look at it next. Workers
# claim due rows under a lease; a lease that runs out (a dead worker) is claimed again.
tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("message_id", sa.String(36), sa.ForeignKey("messages.id"), primary_key=True),
    sa.Column("due_at", sa.BigInteger, nullable=False),
    sa.Column("lease_owner", sa.String(64)),
    sa.Column("lease_until", sa.BigInteger),
    sa.Column("tries", sa.Integer, nullable=False, server_default="0"),  # transient failures
    sa.Index("ix_tasks_due_at", "due_at"),
)

# One row per step tried. Its id is made before the send, so it doubles as the
# provider-side idempotency key where the provider has one.
attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("message_id", sa.String(36), sa.ForeignKey("messages.id"), nullable=False),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(64)),
    sa.Column("sender_id", sa.String(36)),
    sa.Column("address", sa.String(128)),
    sa.Column("provider_message_id", sa.String(128)),
    sa.Column("parts", sa.Integer),
    sa.Column("parts_delivered", sa.Integer, nullable=False, server_default="0"),
    sa.Column("detail", sa.String(64)),  # shown in the status (a flash call's caller pattern)
    sa.Column("started_at", sa.BigInteger, nullable=False),
    sa.Column("finished_at", sa.BigInteger),
    sa.Column("window_ends_at", sa.BigInteger),
    sa.Index("ix_attempts_message_id", "message_id"),
    sa.Index("ix_attempts_provider", "provider_message_id", "channel"),
)

# Delivery reports that arrived before the attempt they belong to was committed with its
# provider id (a fast provider can report within milliseconds); matched up afterwards.
orphan_reports = sa.Table(
    "orphan_reports",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("provider_message_id", sa.String(128), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(64)),
    sa.Column("at", sa.BigInteger, nullable=False),
    # what the report says of its message, to find a send in doubt (see migration 0004)
    sa.Column("recipient", sa.String(32)),
    sa.Column("text_prefix", sa.Text),
    sa.Column("attempt_id", sa.String(36)),  # our own reference, echoed (migration 0006)
    sa.Index("ix_orphan_reports_provider", "provider_message_id", "channel"),
)

# Every provider id an attempt is known by, when there are several (SMS segments).
# Provider ids lead the keys: lookups name many ids of one channel (see migration 0002).
provider_refs = sa.Table(
    "provider_refs",
    metadata,
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("provider_message_id", sa.String(128), nullable=False),
    sa.Column("attempt_id", sa.String(36), sa.ForeignKey("attempts.id"), nullable=False),
    sa.Column("delivered", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.PrimaryKeyConstraint("provider_message_id", "channel"),
    sa.Index("ix_provider_refs_attempt", "attempt_id"),
)

# Flash-call codes: only a hash is kept; attempts are limited.
verifications = sa.Table(
    "verifications",
    metadata,
    sa.Column("message_id", sa.String(36), sa.ForeignKey("messages.id"), primary_key=True),
    sa.Column("code_hash", sa.String(64), nullable=False),
    sa.Column("attempts_left", sa.Integer, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Column("verified_at", sa.BigInteger),
)

# Who a phone is on a platform, per sender (bot): learned from webhooks or imported.
contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("channel", sa.String(32), primary_key=True),
    sa.Column("sender_id", sa.String(36), primary_key=True),
    sa.Column("phone", sa.String(16), primary_key=True),
    sa.Column("address", sa.String(128), nullable=False),
    sa.Column("reachable", sa.Boolean, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Index("ix_contacts_address", "channel", "sender_id", "address"),
)

# What people wrote back (SPEC D7): an SMS to the sender, a Viber Business reply, an RCS
# user message; account_id NULL when no account could be found for it (migration 0011).
incoming_messages = sa.Table(
    "incoming_messages",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id")),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("phone", sa.String(16), nullable=False),
    sa.Column("to_address", sa.String(128), nullable=False),  # what the person wrote to
    sa.Column("alpha_name", sa.String(128), nullable=False),  # the sender name replied to
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("provider_id", sa.String(128)),
    sa.Column("parts", sa.Integer, nullable=False, server_default="1"),  # pieces joined
    sa.Column("parts_expected", sa.Integer, nullable=False, server_default="1"),
    sa.Column("received_at", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("channel", "provider_id", name="uq_incoming_messages_provider"),
    sa.Index("ix_incoming_messages_account", "account_id", "received_at"),
    # an SMS offered again is found by its phone (migration 0012)
    sa.Index("ix_incoming_messages_phone", "channel", "phone", "received_at"),
)

# Pieces of concatenated SMS: kept until the last one comes (or the wait ends, and what
# came is stored as the message), then kept joined (incoming_id: the message they made)
# for the repeat window, so a piece the SMSC offers again is known (migration 0012).
incoming_parts = sa.Table(
    "incoming_parts",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("phone", sa.String(16), nullable=False),
    sa.Column("to_address", sa.String(128), nullable=False),
    sa.Column("reference", sa.Integer, nullable=False),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("received_at", sa.BigInteger, nullable=False),
    sa.Column("incoming_id", sa.String(36)),  # NULL: waiting; else the message it is in
    sa.UniqueConstraint(
        "channel", "phone", "to_address", "reference", "total", "number", name="uq_incoming_parts"
    ),
    sa.Index("ix_incoming_parts_received", "received_at"),
)

# Webhooks (SPEC C, D7): an account's callback URLs and the events owed to them. A
# callback's kind says what it hears: status changes, or incoming messages.
callbacks = sa.Table(
    "callbacks",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("secret", sa.String(64), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("revoked_at", sa.BigInteger),
    sa.Column("kind", sa.String(16), nullable=False, server_default="status"),
)

# An event is about a message's status (message_id) or an incoming message (incoming_id).
callback_events = sa.Table(
    "callback_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("callback_id", sa.String(36), sa.ForeignKey("callbacks.id"), nullable=False),
    sa.Column("message_id", sa.String(36), sa.ForeignKey("messages.id")),
    sa.Column("incoming_id", sa.String(36), sa.ForeignKey("incoming_messages.id")),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("due_at", sa.BigInteger, nullable=False),
    sa.Column("lease_until", sa.BigInteger),
    sa.Column("tries", sa.Integer, nullable=False, server_default="0"),
    sa.Column("delivered_at", sa.BigInteger),
    sa.Index("ix_callback_events_due", "delivered_at", "due_at"),
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

# Prices (SPEC D9): the operator's whole price table, replaced by each `cascade prices load`
# (one row in price_loads per load: its id is the table's version, which API processes
# compare to know whether the table they keep is still current). A price is kept in
# millionths of its currency, an integer: exact on SQLite, whose NUMERIC is a float, and
# on PostgreSQL alike, and summed exactly in SQL (spend figures) on both.
price_loads = sa.Table(
    "price_loads",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("loaded_at", sa.BigInteger, nullable=False),
    sa.Column("prices", sa.Integer, nullable=False),  # how many rows the load had
)

prices = sa.Table(
    "prices",
    metadata,
    sa.Column("channel", sa.String(32), primary_key=True),
    sa.Column("country_prefix", sa.String(6), primary_key=True),  # digits, without "+"
    sa.Column("price_micros", sa.BigInteger, nullable=False),  # the price times 1,000,000
    sa.Column("currency", sa.String(3), nullable=False),  # ISO 4217
    sa.Column("load_id", BigId, sa.ForeignKey("price_loads.id"), nullable=False),
)

# Secrets of the installation, shared by all its processes: ChatHub's JWT signing key when
# CASCADE_JWT_SECRET is unset (generated by the first process that needs it).
installation_secrets = sa.Table(
    "installation_secrets",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

# ChatHub (SPEC E2): an account's organizations, the bots each owns (a bot belongs to at
# most one: its primary key), and their operators. An operator's id is unique within its
# account (the company's own, or the next after the account's highest); operators are
# never removed, a deleted one keeps its row with status 2.
organizations = sa.Table(
    "organizations",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Index("ix_organizations_account", "account_id"),
)

organization_bots = sa.Table(
    "organization_bots",
    metadata,
    sa.Column("bot_id", sa.String(36), sa.ForeignKey("bots.id"), primary_key=True),
    sa.Column("organization_id", BigId, sa.ForeignKey("organizations.id"), nullable=False),
    sa.Column("attached_at", sa.BigInteger, nullable=False),
    sa.Index("ix_organization_bots_organization", "organization_id"),
)

operators = sa.Table(
    "operators",
    metadata,
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id"), primary_key=True),
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("organization_id", BigId, sa.ForeignKey("organizations.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("status", sa.SmallInteger, nullable=False),  # 0 active, 1 inactive, 2 deleted
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Index("ix_operators_organization", "organization_id"),
)

# ChatHub's chats (SPEC E3, migration 0014): one person's conversation with one bot (the
# pair bot_id, address is unique), joined to the bot's organization when it began; its
# messages, the person's (author 1) deduplicated by the platform's id, the operators'
# (author 0) found again by the id the platform gave their send (Viber's receipts); and
# media, a person's fetched from the platform and operators' uploads, kept in the
# database itself (every API process serves them, and they go with its backups).
chats = sa.Table(
    "chats",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("organization_id", BigId, sa.ForeignKey("organizations.id")),
    sa.Column("bot_id", sa.String(36), sa.ForeignKey("bots.id"), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("address", sa.String(128), nullable=False),
    sa.Column("client_name", sa.String(200)),
    sa.Column("client_phone", sa.String(16)),
    sa.Column("status", sa.SmallInteger, nullable=False),  # 0 new … 4 closed
    sa.Column("operator_id", sa.BigInteger),  # the account's operator of that id
    sa.Column("theme", sa.String(200)),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("last_message_at", sa.BigInteger, nullable=False),
    sa.Column("unread", sa.Integer, nullable=False),
    sa.Column("first_client_at", sa.BigInteger),
    sa.Column("first_response_at", sa.BigInteger),
    sa.UniqueConstraint("bot_id", "address", name="uq_chats_bot_address"),
    sa.Index("ix_chats_account_last", "account_id", "last_message_at"),
    sa.Index("ix_chats_organization_status", "organization_id", "status"),
)

chat_media = sa.Table(
    "chat_media",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("token", sa.String(64), nullable=False),  # its public URL's secret part
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("mime", sa.String(100), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("token", name="uq_chat_media_token"),
)

chat_messages = sa.Table(
    "chat_messages",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("chat_id", BigId, sa.ForeignKey("chats.id"), nullable=False),
    sa.Column("author", sa.SmallInteger, nullable=False),  # 0 operator, 1 the person
    sa.Column("content", sa.String(16), nullable=False),  # text, photo, document, …
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("status", sa.SmallInteger, nullable=False),  # 0 new, 1 success, 2 rejected, 3 read
    sa.Column("reason", sa.String(200)),
    sa.Column("provider_id", sa.String(128)),
    sa.Column("media_id", BigId, sa.ForeignKey("chat_media.id")),
    # a person's media still to fetch: the platform's reference (JSON), the next try's
    # time (NULL: none due), how many tries failed and the last one's reason
    sa.Column("media_ref", sa.Text),
    sa.Column("media_due_at", sa.BigInteger),
    sa.Column("media_tries", sa.Integer, nullable=False),
    sa.Column("media_error", sa.String(200)),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("chat_id", "author", "provider_id", name="uq_chat_messages_provider"),
    sa.Index("ix_chat_messages_chat", "chat_id", "id"),
    sa.Index("ix_chat_messages_provider", "provider_id"),
    sa.Index("ix_chat_messages_media_due", "media_due_at"),
)
