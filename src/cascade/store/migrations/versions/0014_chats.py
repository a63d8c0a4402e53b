"""ChatHub chats, their messages and media

SPEC E3: a chat is one person's conversation with one bot (bot_id, address unique),
joined to the bot's organization; its messages (the person's deduplicated by the
platform's id, the operators' found again by the id their send was given, for Viber's
receipts); media, a person's fetched from the platform and the operators' uploads, kept
in the database (up to 20 MB each), so every API process serves them.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "chats",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("organization_id", _BIG_ID, nullable=True),
        sa.Column("bot_id", sa.String(length=36), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("client_name", sa.String(length=200), nullable=True),
        sa.Column("client_phone", sa.String(length=16), nullable=True),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("operator_id", sa.BigInteger(), nullable=True),
        sa.Column("theme", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("last_message_at", sa.BigInteger(), nullable=False),
        sa.Column("unread", sa.Integer(), nullable=False),
        sa.Column("first_client_at", sa.BigInteger(), nullable=True),
        sa.Column("first_response_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["bot_id"], ["bots.id"]),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("bot_id", "address", name="uq_chats_bot_address"),
    )
    op.create_index("ix_chats_account_last", "chats", ["account_id", "last_message_at"])
    op.create_index("ix_chats_organization_status", "chats", ["organization_id", "status"])
    op.create_table(
        "chat_media",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("mime", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token", name="uq_chat_media_token"),
    )
    op.create_table(
        "chat_messages",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("chat_id", _BIG_ID, nullable=False),
        sa.Column("author", sa.SmallInteger(), nullable=False),
        sa.Column("content", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("provider_id", sa.String(length=128), nullable=True),
        sa.Column("media_id", _BIG_ID, nullable=True),
        sa.Column("media_ref", sa.Text(), nullable=True),
        sa.Column("media_due_at", sa.BigInteger(), nullable=True),
        sa.Column("media_tries", sa.Integer(), nullable=False),
        sa.Column("media_error", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["chat_id"], ["chats.id"]),
        sa.ForeignKeyConstraint(["media_id"], ["chat_media.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("chat_id", "author", "provider_id", name="uq_chat_messages_provider"),
    )
    op.create_index("ix_chat_messages_chat", "chat_messages", ["chat_id", "id"])
    op.create_index("ix_chat_messages_provider", "chat_messages", ["provider_id"])
    op.create_index("ix_chat_messages_media_due", "chat_messages", ["media_due_at"])


def downgrade() -> None:
    op.drop_index("ix_chat_messages_media_due", table_name="chat_messages")
    op.drop_index("ix_chat_messages_provider", table_name="chat_messages")
    op.drop_index("ix_chat_messages_chat", table_name="chat_messages")
    op.drop_table("chat_messages")
    op.drop_table("chat_media")
    op.drop_index("ix_chats_organization_status", table_name="chats")
    op.drop_index("ix_chats_account_last", table_name="chats")
    op.drop_table("chats")
