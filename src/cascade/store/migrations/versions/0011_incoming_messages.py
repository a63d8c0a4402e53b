"""incoming messages: what people write back, kept and owed to the account's incoming URLs

A person's SMS to the sender, Viber Business reply or RCS user message is stored first
(`incoming_messages`; its account NULL when none could be found for it), then POSTed to
the account's incoming URLs by the same dispatcher as status webhooks: a callback now has
a kind (`status` or `incoming`), and an event names either a message or an incoming
message. Pieces of concatenated SMS wait in `incoming_parts` until the last one comes.
A reply finds the account that last wrote to the phone through `ix_messages_phone`.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incoming_messages",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("to_address", sa.String(length=128), nullable=False),
        sa.Column("alpha_name", sa.String(length=128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("provider_id", sa.String(length=128), nullable=True),
        sa.Column("parts", sa.Integer(), server_default="1", nullable=False),
        sa.Column("parts_expected", sa.Integer(), server_default="1", nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "provider_id", name="uq_incoming_messages_provider"),
    )
    op.create_index(
        "ix_incoming_messages_account", "incoming_messages", ["account_id", "received_at"]
    )
    op.create_table(
        "incoming_parts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("to_address", sa.String(length=128), nullable=False),
        sa.Column("reference", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "channel",
            "phone",
            "to_address",
            "reference",
            "total",
            "number",
            name="uq_incoming_parts",
        ),
    )
    op.create_index("ix_incoming_parts_received", "incoming_parts", ["received_at"])
    with op.batch_alter_table("callbacks") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=16), server_default="status", nullable=False)
        )
    with op.batch_alter_table("callback_events") as batch:
        batch.alter_column("message_id", existing_type=sa.String(length=36), nullable=True)
        batch.add_column(sa.Column("incoming_id", sa.String(length=36), nullable=True))
        batch.create_foreign_key(
            "fk_callback_events_incoming", "incoming_messages", ["incoming_id"], ["id"]
        )
    op.create_index("ix_messages_phone", "messages", ["phone"])


def downgrade() -> None:
    op.drop_index("ix_messages_phone", table_name="messages")
    op.execute("DELETE FROM callback_events WHERE message_id IS NULL")
    with op.batch_alter_table("callback_events") as batch:
        batch.drop_constraint("fk_callback_events_incoming", type_="foreignkey")
        batch.drop_column("incoming_id")
        batch.alter_column("message_id", existing_type=sa.String(length=36), nullable=False)
    op.execute("DELETE FROM callbacks WHERE kind <> 'status'")
    with op.batch_alter_table("callbacks") as batch:
        batch.drop_column("kind")
    op.drop_index("ix_incoming_parts_received", table_name="incoming_parts")
    op.drop_table("incoming_parts")
    op.drop_index("ix_incoming_messages_account", table_name="incoming_messages")
    op.drop_table("incoming_messages")
