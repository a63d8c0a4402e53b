"""message lists: the core SMSBAT API's requests, and where each message came from

A `POST /bat/messagelist` request is one message list (SPEC D1, D4): its id is an integer
the answer carries, drawn from `message_lists`; each message of it keeps the list's id.
A message also remembers the API surface it came through (`cascade`, `bat`), so its
status webhooks take that surface's shape (SPEC C, D7); rows from before are `cascade`.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 17:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "message_lists",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    with op.batch_alter_table("messages") as batch:
        batch.add_column(
            sa.Column("surface", sa.String(16), nullable=False, server_default="cascade")
        )
        batch.add_column(sa.Column("list_id", sa.BigInteger, nullable=True))
        batch.create_index("ix_messages_list", ["list_id"])


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_index("ix_messages_list")
        batch.drop_column("list_id")
        batch.drop_column("surface")
    op.drop_table("message_lists")
