"""a cancel asked for while a step was in flight

SPEC A9: a message whose step is in flight when it is cancelled ends `cancelled` once
that step's outcome is known. `messages.cancel_requested_at` is the mark the engine
honours (NULL: no cancel was asked for while a step was out).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("cancel_requested_at", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("cancel_requested_at")
