"""a bot names its channel, and a message the bots its request pinned

The store named two channels itself: a bot row kept its platform as a credential kind
(`telegram`, `viber`) that the store translated to a channel, and a message kept the bot
of each of the two bot headers in a column of its own. A bot row now keeps its channel
(`telegram`, `viber_bot`), and a message the ids of the bots its request pinned, in one
column: a new bot channel needs neither a new kind nor new columns.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bots") as batch:
        batch.alter_column(
            "kind",
            new_column_name="channel",
            existing_type=sa.String(16),
            type_=sa.String(32),
            existing_nullable=False,
        )
    op.execute("UPDATE bots SET channel = 'viber_bot' WHERE channel = 'viber'")
    op.add_column("messages", sa.Column("pinned_bots", sa.Text(), nullable=True))
    op.execute(
        "UPDATE messages SET pinned_bots = CASE"
        " WHEN telegram_bot_id IS NOT NULL AND viber_bot_id IS NOT NULL"
        " THEN telegram_bot_id || ',' || viber_bot_id"
        " WHEN telegram_bot_id IS NOT NULL THEN telegram_bot_id"
        " ELSE viber_bot_id END"
        " WHERE telegram_bot_id IS NOT NULL OR viber_bot_id IS NOT NULL"
    )
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("telegram_bot_id")
        batch.drop_column("viber_bot_id")


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("telegram_bot_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("viber_bot_id", sa.String(36), nullable=True))
    op.execute(
        "UPDATE messages SET"
        " telegram_bot_id = (SELECT b.id FROM bots b WHERE b.channel = 'telegram'"
        "  AND ',' || messages.pinned_bots || ',' LIKE '%,' || b.id || ',%'),"
        " viber_bot_id = (SELECT b.id FROM bots b WHERE b.channel = 'viber_bot'"
        "  AND ',' || messages.pinned_bots || ',' LIKE '%,' || b.id || ',%')"
        " WHERE pinned_bots IS NOT NULL"
    )
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("pinned_bots")
    op.execute("UPDATE bots SET channel = 'viber' WHERE channel = 'viber_bot'")
    with op.batch_alter_table("bots") as batch:
        batch.alter_column(
            "channel",
            new_column_name="kind",
            existing_type=sa.String(32),
            type_=sa.String(16),
            existing_nullable=False,
        )
